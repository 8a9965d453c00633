//! Entities found by patterns: URLs, emails, model names, file paths,
//! money, percentages, dates, times, code identifiers, numbers and
//! capitalised names. Earlier kinds win where matches overlap, so
//! "$12.50" is money, not a number, and "1/2/2024" is a date, not a path.

use std::sync::LazyLock;

use serde::Serialize;

use crate::dfa::Dfa;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Url,
    Email,
    ModelName,
    FilePath,
    Money,
    Percentage,
    Date,
    Time,
    CodeIdentifier,
    Number,
    /// A capitalised name: a person, organisation or place.
    Name,
}

impl EntityKind {
    pub const ALL: [EntityKind; 11] = [
        EntityKind::Url,
        EntityKind::Email,
        EntityKind::ModelName,
        EntityKind::FilePath,
        EntityKind::Money,
        EntityKind::Percentage,
        EntityKind::Date,
        EntityKind::Time,
        EntityKind::CodeIdentifier,
        EntityKind::Number,
        EntityKind::Name,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EntityKind::Url => "url",
            EntityKind::Email => "email",
            EntityKind::ModelName => "model_name",
            EntityKind::FilePath => "file_path",
            EntityKind::Money => "money",
            EntityKind::Percentage => "percentage",
            EntityKind::Date => "date",
            EntityKind::Time => "time",
            EntityKind::CodeIdentifier => "code_identifier",
            EntityKind::Number => "number",
            EntityKind::Name => "name",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    pub kind: EntityKind,
    pub text: String,
    /// Byte offsets into the analysed text.
    pub start: usize,
    pub end: usize,
}

/// The entity DFAs (src/patterns.rs, compiled by build.rs) with their kinds,
/// in priority order.
static PATTERNS: LazyLock<Vec<(EntityKind, &'static Dfa)>> = LazyLock::new(|| {
    crate::dfa::LOADED
        .iter()
        .filter_map(|(name, dfa)| EntityKind::ALL.iter().find(|k| k.as_str() == *name).map(|k| (*k, dfa)))
        .collect()
});

/// Words that start sentences or questions with a capital but name nothing.
const NOT_NAMES: &[&str] = &[
    "A",
    "An",
    "The",
    "I",
    "How",
    "What",
    "Why",
    "When",
    "Where",
    "Which",
    "Who",
    "Can",
    "Could",
    "Would",
    "Should",
    "Is",
    "Are",
    "Do",
    "Does",
    "Did",
    "Please",
    "Explain",
    "Write",
    "Show",
    "Tell",
    "Give",
    "List",
    "Make",
    "Create",
    "Find",
    "Compare",
    "Summarize",
    "Describe",
    "Help",
    "Let",
    "If",
    "This",
    "That",
    "These",
    "Those",
    "My",
    "Our",
    "Your",
    "It",
    "In",
    "On",
    "For",
    "And",
    "But",
    "Or",
    "Hi",
    "Hello",
    "Thanks",
    "Yes",
    "No",
    "Not",
    "Use",
    "Sort",
    "Convert",
    "Open",
    "Read",
    "Count",
    "Plot",
    "Calculate",
    "Compute",
    "Fix",
];

pub fn find(text: &str) -> Vec<Entity> {
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for (kind, re) in PATTERNS.iter() {
        for m in re.find_iter(text) {
            let (start, end) = (m.start(), m.end());
            let matched = &text[start..end];
            if taken.iter().any(|&(s, e)| start < e && s < end) {
                continue;
            }
            let mut t = matched.trim_end_matches(['.', ',']).to_string();
            if *kind == EntityKind::Name {
                t = strip_leading_non_names(&t);
                if t.is_empty() {
                    continue;
                }
            }
            // "km/h" is not a path: an absolute path starts a word.
            let glued = text[..start].chars().next_back().is_some_and(char::is_alphanumeric);
            if *kind == EntityKind::FilePath && (t.len() < 2 || (t.starts_with('/') && glued)) {
                continue;
            }
            taken.push((start, end));
            out.push(Entity { kind: *kind, start, end, text: t });
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

/// "How Berlin" -> "Berlin"; "What" -> "".
fn strip_leading_non_names(t: &str) -> String {
    let words: Vec<&str> = t.split_whitespace().collect();
    let skip = words.iter().take_while(|w| NOT_NAMES.contains(w)).count();
    words[skip..].join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(EntityKind, String)> {
        find(text).into_iter().map(|e| (e.kind, e.text)).collect()
    }

    #[test]
    fn finds_each_kind() {
        use EntityKind::*;
        let k = kinds("Email ana@example.com the report at https://example.com/r?id=2 by Friday.");
        assert!(k.contains(&(Email, "ana@example.com".into())), "{k:?}");
        assert!(k.contains(&(Url, "https://example.com/r?id=2".into())), "{k:?}");
        assert!(k.contains(&(Date, "Friday".into())), "{k:?}");
        let k = kinds("Revenue grew 12.5% to $4,200.50 on 2024-03-01 at 10:30 am");
        assert!(k.contains(&(Percentage, "12.5%".into())), "{k:?}");
        assert!(k.contains(&(Money, "$4,200.50".into())), "{k:?}");
        assert!(k.contains(&(Date, "2024-03-01".into())), "{k:?}");
        assert!(k.contains(&(Time, "10:30 am".into())), "{k:?}");
        let k = kinds("Load data/sales.csv and call parse_rows() in read_csv with qwen2.5-coder:7b");
        assert!(k.contains(&(FilePath, "data/sales.csv".into())), "{k:?}");
        assert!(k.contains(&(CodeIdentifier, "parse_rows()".into())), "{k:?}");
        assert!(k.contains(&(CodeIdentifier, "read_csv".into())), "{k:?}");
        assert!(k.contains(&(ModelName, "qwen2.5-coder:7b".into())), "{k:?}");
        let k = kinds("How did Marie Curie get to Paris in 1898 with 3 friends?");
        assert!(k.contains(&(Name, "Marie Curie".into())), "{k:?}");
        assert!(k.contains(&(Name, "Paris".into())), "{k:?}");
        assert!(k.contains(&(Number, "1898".into())), "{k:?}");
        assert!(k.contains(&(Number, "3".into())), "{k:?}");
        assert!(!k.iter().any(|(_, t)| t == "How"), "{k:?}");
    }

    #[test]
    fn overlapping_matches_go_to_the_first_kind() {
        let k = kinds("costs $12.50 per item");
        assert_eq!(k, vec![(EntityKind::Money, "$12.50".into())]);
        let k = kinds("Use camelCase and Foo::bar");
        assert!(k.contains(&(EntityKind::CodeIdentifier, "camelCase".into())), "{k:?}");
        assert!(k.contains(&(EntityKind::CodeIdentifier, "Foo::bar".into())), "{k:?}");
        let k = kinds("speed in km/h and TCP/IP, or read /etc/hosts");
        assert_eq!(k.iter().filter(|(kind, _)| *kind == EntityKind::FilePath).count(), 1, "{k:?}");
        assert!(kinds("philosophy of gemma").is_empty(), "a family name alone is not a model");
    }
}
