//! Intent by weighted cues. Each intent collects points from words and
//! shapes typical of it; the largest total wins, and the confidence is its
//! share of all points (a prompt with one clear cue scores high, a mixed
//! one lower).

use serde::Serialize;

use crate::entities::{Entity, EntityKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    Code,
    DataAnalysis,
    Explanation,
    Question,
    Chat,
}

impl IntentKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            IntentKind::Code => "code",
            IntentKind::DataAnalysis => "data_analysis",
            IntentKind::Explanation => "explanation",
            IntentKind::Question => "question",
            IntentKind::Chat => "chat",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intent {
    pub kind: IntentKind,
    pub confidence: f64,
}

const CODE_WORDS: &[&str] = &[
    "code",
    "function",
    "functions",
    "implement",
    "implementation",
    "bug",
    "bugs",
    "compile",
    "compiler",
    "script",
    "refactor",
    "debug",
    "class",
    "method",
    "api",
    "regex",
    "unit",
    "test",
    "tests",
    "rust",
    "python",
    "javascript",
    "typescript",
    "java",
    "golang",
    "sql",
    "bash",
    "program",
    "snippet",
    "exception",
    "traceback",
    "segfault",
    "library",
    "crate",
    "package",
    "dockerfile",
    "syntax",
    "variable",
    "loop",
    "recursion",
    "algorithm",
    "borrow",
    "lifetime",
    "async",
    "thread",
    "struct",
    "enum",
    "trait",
    "unwrap",
    "panic",
    "error",
    "errors",
    "stack",
];
const CODE_VERBS: &[&str] = &["write", "fix", "implement", "refactor", "debug", "compile", "optimize", "port"];
const DATA_WORDS: &[&str] = &[
    "data",
    "dataset",
    "datasets",
    "csv",
    "tsv",
    "parquet",
    "excel",
    "spreadsheet",
    "column",
    "columns",
    "row",
    "rows",
    "average",
    "mean",
    "median",
    "sum",
    "total",
    "count",
    "group",
    "aggregate",
    "correlation",
    "trend",
    "trends",
    "distribution",
    "outliers",
    "outlier",
    "statistics",
    "chart",
    "plot",
    "histogram",
    "table",
    "tables",
    "query",
    "revenue",
    "sales",
    "forecast",
    "percentile",
    "variance",
    "deviation",
    "dataframe",
    "pivot",
];
const EXPLAIN_WORDS: &[&str] =
    &["explain", "describe", "meaning", "means", "difference", "differences", "overview", "understand", "concept"];
const CHAT_WORDS: &[&str] =
    &["hi", "hello", "hey", "thanks", "thank", "bye", "goodbye", "morning", "evening", "lol", "cool", "great"];
const QUESTION_STARTS: &[&str] = &[
    "who", "what", "when", "where", "which", "why", "how", "is", "are", "can", "could", "do", "does", "did", "should",
    "would", "will", "whats", "what's",
];

pub fn classify(text: &str, words: &[&str], entities: &[Entity]) -> Intent {
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let has = |list: &[&str]| lower.iter().filter(|w| list.contains(&w.as_str())).count() as f64;
    let mut code =
        1.5 * has(CODE_WORDS) + if lower.first().is_some_and(|w| CODE_VERBS.contains(&w.as_str())) { 1.0 } else { 0.0 };
    let mut data = 1.5 * has(DATA_WORDS);
    let mut explain = 2.0 * has(EXPLAIN_WORDS);
    let mut question = 0.0;
    let mut chat = 1.0 * has(CHAT_WORDS);
    for e in entities {
        match e.kind {
            EntityKind::CodeIdentifier => code += 2.0,
            EntityKind::FilePath if is_data_file(&e.text) => data += 2.0,
            EntityKind::FilePath => code += 1.0,
            EntityKind::Percentage | EntityKind::Money => data += 0.5,
            _ => {}
        }
    }
    if text.contains("```") || text.contains("fn ") || text.contains("def ") || text.contains("();") {
        code += 3.0;
    }
    let lower_text = text.to_lowercase();
    for phrase in ["what is", "what are", "how does", "how do", "tell me about", "why does", "why is", "what does"] {
        if lower_text.contains(phrase) {
            explain += 1.0;
        }
    }
    if text.trim_end().ends_with('?') {
        question += 1.5;
    }
    if lower.first().is_some_and(|w| QUESTION_STARTS.contains(&w.as_str())) {
        question += 1.0;
    }
    // A short greeting with nothing else is chat.
    if lower.len() <= 4 && chat > 0.0 {
        chat += 2.0;
    }
    let scores = [
        (IntentKind::Code, code),
        (IntentKind::DataAnalysis, data),
        (IntentKind::Explanation, explain),
        (IntentKind::Question, question),
        (IntentKind::Chat, chat),
    ];
    let total: f64 = scores.iter().map(|(_, s)| s).sum();
    let (kind, best) = scores.iter().copied().fold((IntentKind::Chat, 0.0), |acc, s| if s.1 > acc.1 { s } else { acc });
    if total == 0.0 {
        // No cue at all: plain conversation, with little certainty.
        return Intent { kind: IntentKind::Chat, confidence: 0.3 };
    }
    Intent { kind, confidence: ((best / total) * 1000.0).round() / 1000.0 }
}

fn is_data_file(path: &str) -> bool {
    let p = path.to_lowercase();
    [".csv", ".tsv", ".parquet", ".xlsx", ".xls", ".json", ".ndjson"].iter().any(|ext| p.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use crate::{Analyzer, IntentKind};

    fn intent(text: &str) -> (IntentKind, f64) {
        let a = Analyzer::new().analyze(text);
        (a.intent.kind, a.intent.confidence)
    }

    #[test]
    fn each_intent_is_recognised() {
        assert_eq!(intent("Write a Rust function that parses a date").0, IntentKind::Code);
        assert_eq!(intent("Why does this panic: called unwrap() on a None value").0, IntentKind::Code);
        assert_eq!(intent("What is the average revenue per region in sales.csv?").0, IntentKind::DataAnalysis);
        assert_eq!(intent("Explain the difference between TCP and UDP").0, IntentKind::Explanation);
        assert_eq!(intent("Who won the 2018 World Cup?").0, IntentKind::Question);
        assert_eq!(intent("hello there!").0, IntentKind::Chat);
    }

    #[test]
    fn confidence_is_a_share_between_zero_and_one() {
        let (_, clear) = intent("hello there!");
        let (_, mixed) = intent("Explain how to plot the average of a column in Python code");
        assert!(clear > mixed, "{clear} vs {mixed}");
        assert!((0.0..=1.0).contains(&clear) && (0.0..=1.0).contains(&mixed));
        assert_eq!(intent("zxq").1, 0.3);
    }
}
