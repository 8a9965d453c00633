//! Fenced code coloured by syntect's bundled Sublime grammars, a line at a
//! time (the highlighter keeps its parse state between lines, so a streamed
//! block colours as it would whole).

use std::sync::LazyLock;

use syntect::easy::HighlightLines;
use syntect::highlighting::{Color, FontStyle, Theme, ThemeSet};
use syntect::parsing::SyntaxSet;

use crate::style::{Rgb, Style};
use crate::wrap::Span;

/// Loaded on the first fenced block with a known language, not at start-up.
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);
static THEME: LazyLock<Theme> = LazyLock::new(|| {
    let mut themes = ThemeSet::load_defaults().themes;
    themes.remove("base16-ocean.dark").expect("syntect bundles base16-ocean.dark")
});

pub struct Highlighter {
    lines: HighlightLines<'static>,
    /// The theme's body colour: left to the terminal, so plain code reads on
    /// light and dark backgrounds alike.
    default_fg: Option<Color>,
}

impl std::fmt::Debug for Highlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Highlighter")
    }
}

impl Highlighter {
    /// For a fence's info string (`rust`, `py`, `sh`…); `None` when no
    /// bundled grammar knows it.
    pub fn for_language(info: &str) -> Option<Highlighter> {
        let token = info.split(|c: char| c.is_whitespace() || c == ',' || c == '{').next()?.trim();
        if token.is_empty() {
            return None;
        }
        let syntax = SYNTAXES
            .find_syntax_by_token(token)
            .or_else(|| SYNTAXES.find_syntax_by_token(&token.to_ascii_lowercase()))
            .or_else(|| alias(token).and_then(|t| SYNTAXES.find_syntax_by_token(t)))?;
        let theme: &'static Theme = &THEME;
        Some(Highlighter { lines: HighlightLines::new(syntax, theme), default_fg: theme.settings.foreground })
    }

    /// One line of code (with its line break, which the grammars expect),
    /// as spans without the break.
    pub fn line(&mut self, line: &str) -> Vec<Span> {
        let with_newline = format!("{}\n", line);
        let Ok(regions) = self.lines.highlight_line(&with_newline, &SYNTAXES) else {
            return vec![(line.to_string(), Style::PLAIN)];
        };
        regions
            .into_iter()
            .map(|(s, text)| {
                let fg = (Some(s.foreground) != self.default_fg).then_some(Rgb(s.foreground.r, s.foreground.g, s.foreground.b));
                let style = Style {
                    bold: s.font_style.contains(FontStyle::BOLD),
                    italic: s.font_style.contains(FontStyle::ITALIC),
                    underline: s.font_style.contains(FontStyle::UNDERLINE),
                    fg,
                    ..Style::PLAIN
                };
                (text.trim_end_matches('\n').to_string(), style)
            })
            .filter(|(t, _)| !t.is_empty())
            .collect()
    }
}

/// Names models write that the bundled grammars know by another name.
fn alias(token: &str) -> Option<&'static str> {
    Some(match token.to_ascii_lowercase().as_str() {
        "shell" | "zsh" | "console" | "shellscript" => "bash",
        "jsonc" | "json5" => "json",
        "typescript" | "ts" | "tsx" | "jsx" => "js",
        "toml" | "ini" | "cfg" | "dotenv" | "env" => "ini",
        "dockerfile" | "docker" => "bash",
        "yml" => "yaml",
        "golang" => "go",
        "c++" | "hpp" | "cc" => "cpp",
        "objc" => "objective-c",
        "py3" | "python3" => "python",
        "rs" => "rust",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_languages_are_coloured_and_text_is_kept() {
        let mut h = Highlighter::for_language("rust").expect("rust is bundled");
        let spans = h.line("fn main() { let x = \"hi\"; }");
        let text: String = spans.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(text, "fn main() { let x = \"hi\"; }");
        assert!(spans.iter().any(|(t, s)| t == "fn" && s.fg.is_some()), "{spans:?}");
        let string = spans.iter().find(|(t, _)| t.contains("hi")).expect("the string");
        let keyword = spans.iter().find(|(t, _)| t == "fn").expect("the keyword");
        assert_ne!(string.1.fg, keyword.1.fg, "strings and keywords differ");
    }

    #[test]
    fn aliases_and_unknown_languages() {
        assert!(Highlighter::for_language("py").is_some());
        assert!(Highlighter::for_language("Python").is_some());
        assert!(Highlighter::for_language("shell").is_some());
        assert!(Highlighter::for_language("ts").is_some());
        assert!(Highlighter::for_language("rust,ignore").is_some());
        assert!(Highlighter::for_language("no-such-language").is_none());
        assert!(Highlighter::for_language("").is_none());
    }

    #[test]
    fn state_carries_across_lines() {
        let mut h = Highlighter::for_language("python").expect("python");
        let _ = h.line("s = \"\"\"start of a");
        let inside = h.line("still inside the string");
        let mut fresh = Highlighter::for_language("python").expect("python");
        let alone = fresh.line("still inside the string");
        assert_ne!(inside, alone, "the second line is coloured as part of the string");
    }
}
