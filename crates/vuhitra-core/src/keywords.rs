//! `@keywords` in a prompt: parsed into a typed list and removed from the
//! text the model sees.
//!
//! A keyword only counts at the start of a word (so `ana@example.com` stays
//! text) and only when it is one of the known names; any other `@word` is left
//! alone, because prompts about code mention decorators and annotations.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyword {
    NoCache,
    Cache,
    DevMode,
    Upload,
    Analyze,
    Spark,
    Tools,
    File(PathBuf),
}

impl Keyword {
    pub fn name(&self) -> &'static str {
        match self {
            Keyword::NoCache => "@nocache",
            Keyword::Cache => "@cache",
            Keyword::DevMode => "@devmode",
            Keyword::Upload => "@upload",
            Keyword::Analyze => "@analyze",
            Keyword::Spark => "@spark",
            Keyword::Tools => "@tools",
            Keyword::File(_) => "@file",
        }
    }

    /// The capability a keyword needs, for the message when it has not
    /// landed in this build. `None` means the keyword works.
    pub fn missing_capability(&self) -> Option<&'static str> {
        match self {
            Keyword::File(_)
            | Keyword::NoCache
            | Keyword::Cache
            | Keyword::Analyze
            | Keyword::Upload
            | Keyword::DevMode
            | Keyword::Tools => None,
            Keyword::Spark => Some("Spark jobs"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPrompt {
    /// The prompt with keywords removed and whitespace tidied.
    pub text: String,
    pub keywords: Vec<Keyword>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordError {
    #[error("@file needs a path, as in @file:notes.md or @file:\"my notes.md\"")]
    EmptyFilePath,
    #[error("@file:\"{0} has no closing quote")]
    UnclosedQuote(String),
    #[error("{keyword} needs {capability}, which is not in this build of vuhitra yet")]
    NotAvailable { keyword: &'static str, capability: &'static str },
}

pub fn parse(prompt: &str) -> Result<ParsedPrompt, KeywordError> {
    let mut keywords = Vec::new();
    let mut kept = String::with_capacity(prompt.len());
    let mut rest = prompt;
    let mut at_word_start = true;
    while let Some(c) = rest.chars().next() {
        if c == '@' && at_word_start {
            if let Some((kw, consumed)) = keyword_at(rest)? {
                keywords.push(kw);
                rest = &rest[consumed..];
                at_word_start = true;
                continue;
            }
        }
        kept.push(c);
        at_word_start = c.is_whitespace();
        rest = &rest[c.len_utf8()..];
    }
    Ok(ParsedPrompt { text: tidy(&kept), keywords })
}

/// Recognises a keyword at the start of `s`; returns it and the bytes used.
fn keyword_at(s: &str) -> Result<Option<(Keyword, usize)>, KeywordError> {
    let body = &s[1..];
    let name_len = body.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    let after = &body[name_len..];
    let ends_word =
        |t: &str| t.is_empty() || t.starts_with(char::is_whitespace) || t.starts_with([',', '.', ';', '!', '?']);
    let simple = match name.as_str() {
        "nocache" => Some(Keyword::NoCache),
        "cache" => Some(Keyword::Cache),
        "devmode" => Some(Keyword::DevMode),
        "upload" => Some(Keyword::Upload),
        "analyze" | "analyse" => Some(Keyword::Analyze),
        "spark" => Some(Keyword::Spark),
        "tools" => Some(Keyword::Tools),
        _ => None,
    };
    if let Some(kw) = simple {
        return Ok(ends_word(after).then_some((kw, 1 + name_len)));
    }
    if name != "file" || !after.starts_with(':') {
        return Ok(None);
    }
    let path_part = &after[1..];
    let (path, used) = if let Some(quoted) = path_part.strip_prefix('"') {
        let end = quoted.find('"').ok_or_else(|| KeywordError::UnclosedQuote(quoted.to_string()))?;
        (quoted[..end].to_string(), end + 2)
    } else {
        let end = path_part.find(char::is_whitespace).unwrap_or(path_part.len());
        // A sentence may end right after the path: "look at @file:a.rs."
        let mut path = &path_part[..end];
        loop {
            if let Some(p) = path.strip_suffix([',', ';', '!', '?', ')']) {
                path = p;
                continue;
            }
            // Drop a sentence's full stop, but keep dots that are part of a
            // name: `data.csv.` -> `data.csv`, while `..` stays `..`.
            match path.strip_suffix('.') {
                Some(p) if p.rsplit('/').next().unwrap_or("").trim_start_matches('.').contains('.') => path = p,
                _ => break,
            }
        }
        (path.to_string(), path.len())
    };
    if path.is_empty() {
        return Err(KeywordError::EmptyFilePath);
    }
    Ok(Some((Keyword::File(PathBuf::from(path)), 1 + name_len + 1 + used)))
}

fn tidy(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Stops on the first keyword whose capability is not in this build.
pub fn ensure_available(keywords: &[Keyword]) -> Result<(), KeywordError> {
    for k in keywords {
        if let Some(capability) = k.missing_capability() {
            return Err(KeywordError::NotAvailable { keyword: k.name(), capability });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_extracted_and_removed() {
        let p = parse("@nocache explain this @devmode please").unwrap();
        assert_eq!(p.text, "explain this please");
        assert_eq!(p.keywords, vec![Keyword::NoCache, Keyword::DevMode]);
    }

    #[test]
    fn every_known_keyword_parses() {
        let p = parse("@nocache @cache @devmode @upload @analyze @spark @file:a.txt go").unwrap();
        assert_eq!(
            p.keywords,
            vec![
                Keyword::NoCache,
                Keyword::Cache,
                Keyword::DevMode,
                Keyword::Upload,
                Keyword::Analyze,
                Keyword::Spark,
                Keyword::File("a.txt".into())
            ]
        );
        assert_eq!(p.text, "go");
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parse("@NoCache hi").unwrap().keywords, vec![Keyword::NoCache]);
    }

    #[test]
    fn emails_and_unknown_at_words_stay_in_the_text() {
        let p = parse("mail ana@example.com about @dataclass and @cached_property").unwrap();
        assert!(p.keywords.is_empty());
        assert_eq!(p.text, "mail ana@example.com about @dataclass and @cached_property");
    }

    #[test]
    fn keyword_prefix_of_longer_word_is_not_a_keyword() {
        let p = parse("use @cachedir and @sparkle").unwrap();
        assert!(p.keywords.is_empty(), "{:?}", p.keywords);
    }

    #[test]
    fn file_paths_plain_quoted_and_before_punctuation() {
        let p = parse("compare @file:src/main.rs, @file:\"my notes.md\" and @file:data.csv.").unwrap();
        assert_eq!(
            p.keywords,
            vec![
                Keyword::File("src/main.rs".into()),
                Keyword::File("my notes.md".into()),
                Keyword::File("data.csv".into())
            ]
        );
        assert_eq!(p.text, "compare , and .");
    }

    #[test]
    fn dotfile_paths_survive() {
        let p = parse("read @file:../.env").unwrap();
        assert_eq!(p.keywords, vec![Keyword::File("../.env".into())]);
    }

    #[test]
    fn empty_or_unclosed_file_keyword_is_an_error() {
        assert_eq!(parse("see @file: now"), Err(KeywordError::EmptyFilePath));
        assert!(matches!(parse("see @file:\"open"), Err(KeywordError::UnclosedQuote(_))));
    }

    #[test]
    fn multi_line_prompts_keep_their_lines() {
        let p = parse("@nocache first line\n  second   line").unwrap();
        assert_eq!(p.text, "first line\nsecond line");
    }

    #[test]
    fn unavailable_keywords_are_named() {
        let err = ensure_available(&[Keyword::File("x".into()), Keyword::Spark]).unwrap_err();
        assert_eq!(err.to_string(), "@spark needs Spark jobs, which is not in this build of vuhitra yet");
        assert!(ensure_available(&[Keyword::File("x".into())]).is_ok());
    }
}
