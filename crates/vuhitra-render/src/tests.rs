use super::*;

/// Answers of the kinds models write, each exercising a different part.
const ANSWERS: &[&str] = &[
    "# Setting up\n\nInstall it with **pip** and run `app --help`.\nThen *read* the [guide](https://example.org/guide).\n",
    "## Steps\n1. Clone the repo\n2. Run `make`\n   - on Linux: `make -j4`\n   - on macOS:\n     use **gmake**\n3. Done\n\n- [ ] write tests\n- [x] ship it\n",
    "> **Note:** quoted text that runs on for quite a while so that it has to wrap\n> onto a second row.\n>\n> > nested quote\n\nafter the quote\n",
    "```python\ndef greet(name: str) -> str:\n    \"\"\"Say hello.\"\"\"\n    return f\"Hello, {name}!\"  # a comment\n```\n\nAnd in Rust:\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n",
    "| Name | Age | City |\n|:-----|----:|:----:|\n| Ada | 36 | London |\n| Grace Brewster Murray Hopper | 85 | New York City, New York |\n| 李小龍 | 32 | 香港 |\n\nTable done.\n",
    "Text with a pipe | in it\n| not | a table |\nstill text\n\n---\n\n***\nEnd with ~~strike~~ and an image ![logo](logo.png)\n",
    "Some *unclosed emphasis and a ` stray backtick, 2 * 3 = 6, snake_case_word,\n\\*escaped\\* and a [broken link( here.\n#not a heading\n####### seven\n",
    "Windows line endings\r\n\r\n- one\r\n- two\r\n",
    "Ends inside a fence\n```sh\necho unterminated",
    "Emoji 🎉 and accents: café, naïve — “quotes” and a very-long-unbreakable-token-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop end",
    "1) first\n2) second\n\n10. tenth item with **bold** text that keeps going past the edge of a narrow terminal row\n",
    "Paragraph one\nsoft break\n\n\n\nParagraph two after several blank lines\n# Heading right after\ntext right after heading\n",
];

fn options(color: ColorLevel, width: usize) -> Options {
    Options { width, color }
}

fn render(text: &str, color: ColorLevel, width: usize) -> String {
    MarkdownStream::render(text, options(color, width))
}

/// The text a terminal shows: escapes removed.
fn visible(rendered: &str) -> String {
    let mut out = String::new();
    let mut chars = rendered.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn in_pieces(text: &[u8], cuts: &[usize], color: ColorLevel, width: usize) -> String {
    let mut stream = MarkdownStream::new(options(color, width));
    let mut out = String::new();
    let mut last = 0;
    for &cut in cuts.iter().chain([text.len()].iter()) {
        out.push_str(&stream.push_bytes(&text[last..cut]));
        last = cut;
    }
    out.push_str(&stream.finish());
    out
}

#[test]
fn output_is_the_same_however_the_stream_is_split() {
    for answer in ANSWERS {
        let bytes = answer.as_bytes();
        for color in [ColorLevel::None, ColorLevel::TrueColor] {
            let whole = render(answer, color, 40);
            // Split in two at every byte, UTF-8 sequences included.
            for cut in 0..=bytes.len() {
                assert_eq!(in_pieces(bytes, &[cut], color, 40), whole, "{color:?}, cut at byte {cut} of {answer:?}");
            }
            // A byte at a time.
            let every: Vec<usize> = (1..bytes.len()).collect();
            assert_eq!(in_pieces(bytes, &every, color, 40), whole, "{color:?}, byte by byte: {answer:?}");
            // Irregular pieces, as tokens come.
            let mut cuts = Vec::new();
            let mut at = 0;
            let mut step = 1;
            while at < bytes.len() {
                cuts.push(at);
                step = step * 7 % 11 + 1;
                at += step;
            }
            assert_eq!(in_pieces(bytes, &cuts, color, 40), whole, "{color:?}, irregular: {answer:?}");
        }
    }
}

#[test]
fn text_is_shown_before_the_answer_ends() {
    let mut stream = MarkdownStream::new(options(ColorLevel::None, 80));
    assert_eq!(stream.push("# Ti"), "");
    assert_eq!(stream.push("tle\n"), "# Title\n", "a heading shows at its line break (with its marks: no escapes here)");
    assert_eq!(stream.push("Hello wor"), "Hello", "words show once whole");
    assert_eq!(stream.push("ld and **bo"), " world and");
    assert_eq!(stream.push("ld** more"), " bold");
    assert_eq!(stream.push("\n```rust\nlet x"), " more\n── rust ────────────────────────────────────────────────────\n");
    assert_eq!(stream.push(" = 1;\n"), "let x = 1;\n", "code shows a line at a time");
    assert_eq!(stream.push("```\n| a |\n|---|\n"), "────────────────────────────────────────────────────────────\n");
    assert_eq!(stream.push("| 1 |\n"), "", "a table waits for its last row");
    assert_eq!(stream.finish(), "┌───┐\n│ a │\n├───┤\n│ 1 │\n└───┘\n");
}

#[test]
fn the_layout_without_escapes() {
    let out = render(ANSWERS[1], ColorLevel::None, 80);
    assert_eq!(
        out,
        "## Steps\n1. Clone the repo\n2. Run `make`\n   ◦ on Linux: `make -j4`\n   ◦ on macOS: use gmake\n3. Done\n\n☐ write tests\n☑ ship it\n"
    );
    let out = render(ANSWERS[2], ColorLevel::None, 40);
    assert_eq!(
        out,
        "│ Note: quoted text that runs on for\n│ quite a while so that it has to wrap\n│ onto a second row.\n│\n│ │ nested quote\n\nafter the quote\n"
    );
    let out = render(ANSWERS[4], ColorLevel::None, 80);
    assert_eq!(
        out,
        "┌──────────────────────────────┬─────┬─────────────────────────┐\n\
         │ Name                         │ Age │          City           │\n\
         ├──────────────────────────────┼─────┼─────────────────────────┤\n\
         │ Ada                          │  36 │         London          │\n\
         │ Grace Brewster Murray Hopper │  85 │ New York City, New York │\n\
         │ 李小龍                       │  32 │          香港           │\n\
         └──────────────────────────────┴─────┴─────────────────────────┘\n\nTable done.\n"
    );
    let out = render(ANSWERS[5], ColorLevel::None, 30);
    assert_eq!(
        out,
        "Text with a pipe | in it | not\n| a table | still text\n\n──────────────────────────────\n\n──────────────────────────────\nEnd with strike and an image\nimage: logo (logo.png)\n"
    );
}

#[test]
fn a_wide_table_wraps_its_cells_within_the_width() {
    let out = visible(&render(ANSWERS[4], ColorLevel::TrueColor, 40));
    for line in out.lines() {
        assert!(text_width(line) <= 40, "{line:?} is wider than 40");
    }
    assert!(out.contains("│ Grace Brewster │  85 │   New York    │\n│ Murray Hopper  │     │   City, New   │\n"), "{out}");
}

#[test]
fn no_line_is_wider_than_the_terminal_except_code() {
    for answer in ANSWERS {
        for width in (20..=100).step_by(9) {
            let out = visible(&render(answer, ColorLevel::Ansi256, width));
            let mut in_code = false;
            for line in out.lines() {
                if line.starts_with("──") && !line.starts_with("───") || (in_code && line.starts_with('─')) {
                    in_code = !in_code;
                    continue;
                }
                if !in_code {
                    assert!(text_width(line) <= width, "{line:?} is wider than {width} in {answer:?}");
                }
            }
        }
    }
}

#[test]
fn markers_are_replaced_by_styles() {
    let out = render(ANSWERS[0], ColorLevel::TrueColor, 80);
    let shown = visible(&out);
    for marker in ["**", "`", "# ", "](", "*read*"] {
        assert!(!shown.contains(marker), "{marker:?} left in {shown:?}");
    }
    assert!(out.contains("\x1b[0;1;4;38;2;198;120;221mSetting"), "an underlined coloured h1: {out:?}");
    assert!(out.contains("\x1b[0;1mpip"), "bold: {out:?}");
    assert!(out.contains("\x1b[0;3mread"), "italic: {out:?}");
    assert!(out.contains("\x1b[0;38;2;229;192;123mapp --help"), "a code span: {out:?}");
    assert!(out.contains("\x1b[0;4;38;2;97;175;239mguide"), "a link: {out:?}");
    let last_escape = out.rfind('\x1b').expect("escapes");
    assert!(out[last_escape..].starts_with("\x1b[0m"), "the terminal's style is restored: {out:?}");
}

#[test]
fn fenced_code_is_highlighted_and_kept_verbatim() {
    let out = render(ANSWERS[3], ColorLevel::TrueColor, 80);
    assert!(out.matches("\x1b[0;38;2;").count() > 10, "coloured tokens: {out:?}");
    let shown = visible(&out);
    for line in ["def greet(name: str) -> str:", "    \"\"\"Say hello.\"\"\"", "    println!(\"hi\");"] {
        assert!(shown.lines().any(|l| l == line), "{line:?} in {shown}");
    }
    // Without colours there is no highlighter, and no escape at all.
    let plain = render(ANSWERS[3], ColorLevel::None, 80);
    assert!(!plain.contains('\x1b'));
    assert_eq!(visible(&out), plain, "colours change nothing else");
}

#[test]
fn no_color_keeps_attributes_and_drops_colours() {
    for answer in ANSWERS {
        let mono = render(answer, ColorLevel::Mono, 60);
        assert!(!mono.contains("38;"), "a colour under NO_COLOR: {mono:?}");
        // The same text as with no escapes at all, but for the heading
        // marks only the latter needs.
        let none = render(answer, ColorLevel::None, 60);
        let unmarked: Vec<&str> =
            none.split('\n').map(|l| if l.starts_with('#') { l.trim_start_matches('#').trim_start() } else { l }).collect();
        assert_eq!(visible(&mono), unmarked.join("\n"));
    }
    assert!(render("**bold**", ColorLevel::Mono, 60).contains("\x1b[0;1mbold"));
}

#[test]
fn the_output_ends_with_a_line_break_only_when_the_answer_does() {
    for (text, expected) in [
        ("plain", "plain"),
        ("plain\n", "plain\n"),
        ("- item", "• item"),
        ("| a |\n|---|", "┌───┐\n│ a │\n├───┤\n└───┘"),
        ("```\ncode\n```", "────────────────────────────────────────\ncode\n────────────────────────────────────────"),
        ("", ""),
        ("\n\n", ""),
    ] {
        assert_eq!(render(text, ColorLevel::None, 40), expected, "{text:?}");
    }
}

#[test]
fn an_answer_cut_off_inside_a_fence_still_closes_it() {
    let out = render(ANSWERS[8], ColorLevel::Ansi256, 40);
    assert!(visible(&out).ends_with("echo unterminated\n────────────────────────────────────────"), "{out:?}");
    assert!(out.ends_with("\x1b[0m"), "{out:?}");
}

#[test]
fn invalid_utf8_shows_a_replacement_character() {
    let mut stream = MarkdownStream::new(options(ColorLevel::None, 40));
    let mut out = stream.push_bytes(b"bad \xff byte and a cut \xe2\x82");
    out.push_str(&stream.finish());
    assert_eq!(out, "bad \u{fffd} byte and a cut \u{fffd}");
}

#[test]
fn crlf_line_endings_render_like_lf() {
    assert_eq!(render(ANSWERS[7], ColorLevel::None, 40), render(&ANSWERS[7].replace("\r\n", "\n"), ColorLevel::None, 40));
}
