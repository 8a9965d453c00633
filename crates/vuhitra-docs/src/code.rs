//! Source files: blocks end at blank lines that are followed by a line at
//! indentation 0, so a function body with blank lines inside stays one
//! block. A top-level definition line becomes the heading of the blocks from
//! its own up to the next definition, which lets a retrieved chunk say which
//! function it came from. Data formats (TOML, INI) use `[section]` lines
//! instead; YAML, JSON and SQL get no headings.

use crate::{is_blank, numbered_lines, Block, Pending};

const MAX_HEADING_CHARS: usize = 80;

/// Modifiers that may precede a definition keyword.
const MODIFIERS: &[&str] = &[
    "pub",
    "pub(crate)",
    "pub(super)",
    "export",
    "default",
    "async",
    "public",
    "private",
    "protected",
    "internal",
    "static",
    "final",
    "abstract",
    "sealed",
    "open",
    "unsafe",
    "extern",
    "local",
    "data",
    "case",
    "inline",
];

const DEFINITIONS: &[&str] = &[
    "def",
    "class",
    "fn",
    "impl",
    "struct",
    "enum",
    "trait",
    "mod",
    "func",
    "function",
    "interface",
    "type",
    "module",
    "object",
    "fun",
    "union",
    "namespace",
    "record",
    "protocol",
    "extension",
    "macro_rules!",
];

#[derive(Clone, Copy, PartialEq)]
enum HeadingStyle {
    Definitions,
    Sections,
    None,
}

fn style_for(language: &str) -> HeadingStyle {
    match language {
        "toml" | "ini" => HeadingStyle::Sections,
        "yaml" | "json" | "sql" | "make" | "dockerfile" => HeadingStyle::None,
        _ => HeadingStyle::Definitions,
    }
}

fn is_definition(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let mut word = words.next();
    while let Some(w) = word {
        if MODIFIERS.contains(&w) {
            word = words.next();
            continue;
        }
        // `pub(in crate::x)`-style visibility is a single word only when unspaced.
        if w.starts_with("pub(") {
            word = words.next();
            continue;
        }
        return DEFINITIONS.contains(&w) && words.next().is_some();
    }
    false
}

fn heading_line(style: HeadingStyle, line: &str) -> Option<String> {
    if line.starts_with(char::is_whitespace) || line.is_empty() {
        return None;
    }
    let found = match style {
        HeadingStyle::Definitions => is_definition(line),
        HeadingStyle::Sections => {
            let t = line.trim_end();
            t.starts_with('[') && t.ends_with(']')
        }
        HeadingStyle::None => false,
    };
    found.then(|| truncate_chars(line.trim(), MAX_HEADING_CHARS))
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => s[..cut].to_string(),
        None => s.to_string(),
    }
}

pub(crate) fn load(text: &str, language: &str) -> Vec<Block> {
    let style = style_for(language);
    let mut out = Vec::new();
    let mut pending = Pending::default();
    // Heading of the blocks after the last definition seen so far.
    let mut current: Option<String> = None;
    // First definition inside the block being collected: its heading wins.
    let mut block_heading: Option<String> = None;
    let mut blanks = 0usize;

    let flush =
        |pending: &mut Pending, block_heading: &mut Option<String>, current: &Option<String>, out: &mut Vec<Block>| {
            let heading = block_heading.take().or_else(|| current.clone());
            let headings: Vec<String> = heading.into_iter().collect();
            pending.flush(&headings, true, out);
        };

    for (no, line) in numbered_lines(text) {
        if is_blank(line) {
            blanks += 1;
            continue;
        }
        let top_level = !line.starts_with(char::is_whitespace);
        if blanks > 0 && top_level {
            flush(&mut pending, &mut block_heading, &current, &mut out);
        } else if !pending.is_empty() {
            // Blank lines inside a construct stay part of the block, one
            // newline each so the text keeps the source's line count.
            pending.text.extend(std::iter::repeat_n('\n', blanks));
        }
        blanks = 0;
        if let Some(h) = heading_line(style, line) {
            if block_heading.is_none() {
                // Lines before the definition in this block (doc comments,
                // attributes) belong to it, so the block takes its heading.
                block_heading = Some(h.clone());
            }
            current = Some(h);
        }
        pending.push(no, line);
    }
    flush(&mut pending, &mut block_heading, &current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_blocks_split_between_top_level_defs_and_take_def_headings() {
        let src = "import os\n\n\ndef alpha(x):\n    y = 1\n\n    return y\n\n\nclass Beta:\n    pass\n\nCONST = 3\n";
        let blocks = load(src, "python");
        let got: Vec<(String, Vec<String>, (u32, u32))> =
            blocks.iter().map(|b| (b.text.clone(), b.headings.clone(), b.lines)).collect();
        assert_eq!(
            got,
            vec![
                ("import os".into(), vec![], (1, 1)),
                ("def alpha(x):\n    y = 1\n\n    return y".into(), vec!["def alpha(x):".into()], (4, 7)),
                ("class Beta:\n    pass".into(), vec!["class Beta:".into()], (10, 11)),
                // Until the next definition, the last one stays the heading.
                ("CONST = 3".into(), vec!["class Beta:".into()], (13, 13)),
            ]
        );
        assert!(blocks.iter().all(|b| b.code));
    }

    #[test]
    fn rust_doc_comment_block_takes_the_heading_of_its_item() {
        let src = "/// Adds.\n#[inline]\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\nimpl Foo {\n}\n";
        let blocks = load(src, "rust");
        assert_eq!(blocks[0].headings, vec!["pub fn add(a: u32, b: u32) -> u32 {".to_string()]);
        assert_eq!(blocks[0].lines, (1, 5));
        assert_eq!(blocks[1].headings, vec!["impl Foo {".to_string()]);
    }

    #[test]
    fn long_definition_lines_are_cut_to_80_chars() {
        let long = format!("function f({}) {{", "a, ".repeat(60));
        let blocks = load(&long, "javascript");
        assert_eq!(blocks[0].headings[0].chars().count(), MAX_HEADING_CHARS);
    }

    #[test]
    fn toml_sections_are_headings_and_yaml_has_none() {
        let blocks = load("[package]\nname = \"x\"\n\n[dependencies]\ncsv = \"1\"\n", "toml");
        assert_eq!(blocks[1].headings, vec!["[dependencies]".to_string()]);
        let blocks = load("class: x\n\ndef: y\n", "yaml");
        assert!(blocks.iter().all(|b| b.headings.is_empty()));
    }
}
