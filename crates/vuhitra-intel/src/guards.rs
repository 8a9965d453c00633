//! Guards against the false hits semantic caches are known for. Two prompts
//! can be close in wording and embedding yet need different answers: one
//! negates the other, asks about another number or name, asks for the
//! opposite operation, or swaps the direction ("X to Y" / "Y to X"). Any of
//! these refuses a hit, however similar the prompts are.

use std::collections::HashSet;

use vuhitra_nlp::{is_stop_word, Analysis, EntityKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Negation,
    Numbers { ours: Vec<String>, theirs: Vec<String> },
    Entity(String),
    Opposite(String, String),
    Direction(String, String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Negation => write!(f, "one prompt is negated and the other is not"),
            Mismatch::Numbers { ours, theirs } => {
                write!(f, "different numbers ({} vs {})", list(ours), list(theirs))
            }
            Mismatch::Entity(e) => write!(f, "{e} appears in only one prompt"),
            Mismatch::Opposite(a, b) => write!(f, "opposite requests ({a} vs {b})"),
            Mismatch::Direction(a, b) => write!(f, "{a} and {b} in the opposite order"),
        }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Entity kinds that name a specific thing; numbers are compared separately.
pub fn is_identity(kind: EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::Url
            | EntityKind::Email
            | EntityKind::ModelName
            | EntityKind::FilePath
            | EntityKind::CodeIdentifier
            | EntityKind::Name
    )
}

const NUMBER_WORDS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "twenty", "hundred", "thousand", "million", "billion", "dozen", "half", "quarter", "double", "twice", "triple",
    "single", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];

/// Languages, libraries and tools a workbench user names in lower case as
/// often as not; capitalisation cannot find them, so they are listed.
const TECHNOLOGIES: &[&str] = &[
    "python",
    "rust",
    "go",
    "golang",
    "java",
    "javascript",
    "typescript",
    "kotlin",
    "scala",
    "ruby",
    "php",
    "perl",
    "swift",
    "c",
    "c++",
    "c#",
    "haskell",
    "elixir",
    "lua",
    "r",
    "julia",
    "bash",
    "zsh",
    "fish",
    "powershell",
    "sql",
    "postgres",
    "postgresql",
    "mysql",
    "sqlite",
    "mariadb",
    "oracle",
    "mongodb",
    "redis",
    "elasticsearch",
    "kafka",
    "spark",
    "pyspark",
    "hadoop",
    "pandas",
    "polars",
    "numpy",
    "scipy",
    "matplotlib",
    "seaborn",
    "plotly",
    "sklearn",
    "scikit-learn",
    "pytorch",
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "django",
    "flask",
    "fastapi",
    "react",
    "vue",
    "angular",
    "svelte",
    "node",
    "nodejs",
    "deno",
    "npm",
    "yarn",
    "pip",
    "conda",
    "cargo",
    "tokio",
    "serde",
    "docker",
    "podman",
    "kubernetes",
    "k8s",
    "helm",
    "terraform",
    "ansible",
    "git",
    "svn",
    "mercurial",
    "github",
    "gitlab",
    "linux",
    "windows",
    "macos",
    "ubuntu",
    "debian",
    "fedora",
    "arch",
    "alpine",
    "nginx",
    "apache",
    "vim",
    "neovim",
    "emacs",
    "vscode",
    "excel",
    "csv",
    "json",
    "yaml",
    "toml",
    "xml",
    "parquet",
    "arrow",
    "html",
    "css",
    "markdown",
    "latex",
    "aws",
    "azure",
    "gcp",
    "ollama",
    "llama",
    "gemma",
    "mistral",
    "qwen",
    "duckdb",
    "datafusion",
    "jupyter",
    "vscode",
    "cmake",
    "make",
    "gcc",
    "clang",
    "llvm",
    "wasm",
    "webassembly",
    "grpc",
    "graphql",
    "rest",
    "http",
    "https",
    "tcp",
    "udp",
    "ssh",
    "tls",
    "gpg",
    "openssl",
    "curl",
    "wget",
    "awk",
    "sed",
    "grep",
    "jq",
    "systemd",
    "cron",
];

/// Word pairs that ask for opposite things, as prefixes of the word forms
/// (so "ascending" matches "ascend"); see `has_form`.
const OPPOSITES: &[(&str, &str)] = &[
    ("ascend", "descend"),
    ("increas", "decreas"),
    ("larg", "small"),
    ("big", "small"),
    ("max", "min"),
    ("maximum", "minimum"),
    ("highest", "lowest"),
    ("high", "low"),
    ("most", "least"),
    ("encrypt", "decrypt"),
    ("compress", "decompress"),
    ("serializ", "deserializ"),
    ("serialis", "deserialis"),
    ("encod", "decod"),
    ("enabl", "disabl"),
    ("start", "stop"),
    ("push", "pull"),
    ("import", "export"),
    ("upload", "download"),
    ("add", "remov"),
    ("add", "drop"),
    ("add", "delet"),
    ("insert", "delet"),
    ("append", "prepend"),
    ("upper", "lower"),
    ("uppercase", "lowercase"),
    ("before", "after"),
    ("first", "last"),
    ("earliest", "latest"),
    ("oldest", "newest"),
    ("older", "newer"),
    ("open", "clos"),
    ("left", "right"),
    ("inner", "outer"),
    ("true", "false"),
    ("read", "writ"),
    ("show", "hid"),
    ("lock", "unlock"),
    ("install", "uninstall"),
    ("zip", "unzip"),
    ("expand", "collaps"),
    ("above", "below"),
    ("input", "output"),
    ("accept", "reject"),
    ("allow", "deny"),
    ("allow", "block"),
    ("includ", "exclud"),
    ("horizontal", "vertical"),
    ("fast", "slow"),
    ("plus", "minus"),
    ("positive", "negative"),
    ("better", "worse"),
    ("best", "worst"),
    ("buy", "sell"),
    ("win", "los"),
    ("merg", "split"),
    ("join", "split"),
    ("wide", "long"),
    ("join", "leav"),
    ("connect", "disconnect"),
    ("mount", "unmount"),
    ("forward", "backward"),
    ("import", "export"),
];

/// Endings allowed after a prefix in `OPPOSITES`, so "add" does not match
/// "address" nor "lat" "latitude".
const ENDINGS: &[&str] = &[
    "", "s", "e", "es", "ed", "d", "ing", "er", "ers", "est", "ion", "ions", "ly", "ize", "ise", "ation", "ment",
    "ure", "ger", "gest", "ten", "t", "ting", "ly", "ally", "imum",
];

fn has_form(words: &HashSet<String>, prefix: &str) -> bool {
    words.iter().any(|w| w.strip_prefix(prefix).is_some_and(|rest| ENDINGS.contains(&rest)))
}

const DIRECTION_WORDS: &[&str] = &["to", "into", "from", "than", "vs", "versus", "over", "onto"];

fn lower_words(a: &Analysis) -> HashSet<String> {
    a.tokens.iter().map(|t| t.to_lowercase().replace('’', "'")).collect()
}

/// Numbers, money, percentages, dates and times, and number words, sorted.
pub fn numbers(a: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = a
        .entities
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntityKind::Number | EntityKind::Money | EntityKind::Percentage | EntityKind::Date | EntityKind::Time
            )
        })
        .map(|e| e.text.to_lowercase())
        .collect();
    out.extend(a.tokens.iter().map(|t| t.to_lowercase()).filter(|t| NUMBER_WORDS.contains(&t.as_str())));
    out.sort();
    out
}

/// The names, paths, URLs, identifiers and known technologies a prompt
/// mentions (lowercase).
fn identities(a: &Analysis) -> Vec<String> {
    let mut out: Vec<String> =
        a.entities.iter().filter(|e| is_identity(e.kind)).map(|e| e.text.to_lowercase()).collect();
    for t in &a.tokens {
        let lower = t.to_lowercase();
        if TECHNOLOGIES.contains(&lower.as_str()) && !out.iter().any(|x| x.split_whitespace().any(|w| w == lower)) {
            out.push(lower);
        }
    }
    out
}

/// The words whose order matters when a direction word is present: words of
/// identities, and the content words either side of a direction word
/// ("celsius to fahrenheit"), in the order they appear.
fn ordered_salient(a: &Analysis, identities: &[String]) -> Vec<String> {
    let lower: Vec<String> = a.tokens.iter().map(|t| t.to_lowercase()).collect();
    let identity_words: HashSet<&str> = identities.iter().flat_map(|i| i.split_whitespace()).collect();
    let content = |w: &str| w.chars().next().is_some_and(char::is_alphanumeric) && !is_stop_word(w);
    let mut salient = vec![false; lower.len()];
    for (i, w) in lower.iter().enumerate() {
        if identity_words.contains(w.as_str()) {
            salient[i] = true;
        }
        if DIRECTION_WORDS.contains(&w.as_str()) {
            if let Some(j) = (0..i).rev().find(|&j| content(&lower[j])) {
                salient[j] = true;
            }
            if let Some(j) = (i + 1..lower.len()).find(|&j| content(&lower[j])) {
                salient[j] = true;
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (i, w) in lower.into_iter().enumerate() {
        if salient[i] && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Words a prompt has that carry meaning: tokens that are not stop words.
fn contains_all_words(words: &HashSet<String>, phrase: &str) -> bool {
    phrase
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .all(|w| words.contains(w) || words.contains(w.trim_end_matches(['.', ',', '?', '!', ':', ';'])))
}

pub fn check(ours: &Analysis, theirs: &Analysis) -> Result<(), Mismatch> {
    if ours.negations.is_empty() != theirs.negations.is_empty() {
        return Err(Mismatch::Negation);
    }
    let (n1, n2) = (numbers(ours), numbers(theirs));
    if n1 != n2 {
        return Err(Mismatch::Numbers { ours: n1, theirs: n2 });
    }
    let (w1, w2) = (lower_words(ours), lower_words(theirs));
    let (id1, id2) = (identities(ours), identities(theirs));
    for (ids, other) in [(&id1, &w2), (&id2, &w1)] {
        if let Some(missing) = ids.iter().find(|e| !contains_all_words(other, e)) {
            return Err(Mismatch::Entity(missing.clone()));
        }
    }
    for &(a, b) in OPPOSITES {
        let (ours_a, ours_b, theirs_a, theirs_b) =
            (has_form(&w1, a), has_form(&w1, b), has_form(&w2, a), has_form(&w2, b));
        if (ours_a && !ours_b && theirs_b && !theirs_a) || (ours_b && !ours_a && theirs_a && !theirs_b) {
            return Err(Mismatch::Opposite(a.into(), b.into()));
        }
    }
    // un-/de-/dis- forms of a word the other prompt has: "install" vs "uninstall".
    for (x, y) in [(&w1, &w2), (&w2, &w1)] {
        for w in x.iter().filter(|w| w.len() >= 4) {
            for p in ["un", "de", "dis"] {
                let negated = format!("{p}{w}");
                if y.contains(&negated) && !x.contains(&negated) && !y.contains(w) {
                    return Err(Mismatch::Opposite(w.clone(), negated));
                }
            }
        }
    }
    direction(ours, theirs, &id1, &id2)
}

/// With a direction word present ("to", "than", "vs"…), the things named on
/// both sides must come in the same order.
fn direction(ours: &Analysis, theirs: &Analysis, id1: &[String], id2: &[String]) -> Result<(), Mismatch> {
    let directional = |a: &Analysis| a.tokens.iter().any(|t| DIRECTION_WORDS.contains(&t.to_lowercase().as_str()));
    if !directional(ours) && !directional(theirs) {
        return Ok(());
    }
    let (s1, s2) = (ordered_salient(ours, id1), ordered_salient(theirs, id2));
    let common1: Vec<&String> = s1.iter().filter(|x| s2.contains(x)).collect();
    let common2: Vec<&String> = s2.iter().filter(|x| s1.contains(x)).collect();
    if common1.len() >= 2 && common1 != common2 {
        let first_diff = common1.iter().zip(&common2).position(|(a, b)| a != b).unwrap_or(0);
        let other = common2[first_diff];
        return Err(Mismatch::Direction(common1[first_diff].clone(), other.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vuhitra_nlp::Analyzer;

    fn check_texts(a: &str, b: &str) -> Result<(), Mismatch> {
        let an = Analyzer::new();
        check(&an.analyze(a), &an.analyze(b))
    }

    #[test]
    fn rewordings_pass() {
        for (a, b) in [
            ("How do I sort a list in Python?", "how to sort python list"),
            ("What is the capital of France?", "capital of France?"),
            ("Explain what a Python decorator does", "what does a decorator do in python"),
            ("convert celsius to fahrenheit", "Celsius to Fahrenheit conversion"),
        ] {
            assert_eq!(check_texts(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn near_duplicates_are_refused_with_the_reason() {
        assert_eq!(
            check_texts("Which columns have null values?", "Which columns have no null values?"),
            Err(Mismatch::Negation)
        );
        assert!(matches!(
            check_texts("Show the first 10 rows", "Show the first 100 rows"),
            Err(Mismatch::Numbers { .. })
        ));
        assert!(matches!(check_texts("second highest salary", "third highest salary"), Err(Mismatch::Numbers { .. })));
        assert!(matches!(check_texts("capital of France", "capital of Spain"), Err(Mismatch::Entity(_))));
        assert!(matches!(check_texts("sort a list in python", "sort a list in rust"), Err(Mismatch::Entity(_))));
        assert!(matches!(
            check_texts("sort the table ascending", "sort the table descending"),
            Err(Mismatch::Opposite(..))
        ));
        assert!(matches!(check_texts("how to install numpy", "how to uninstall numpy"), Err(Mismatch::Opposite(..))));
        assert!(matches!(check_texts("add a column", "drop a column"), Err(Mismatch::Opposite(..))));
        assert!(matches!(
            check_texts("convert celsius to fahrenheit", "convert fahrenheit to celsius"),
            Err(Mismatch::Direction(..))
        ));
        assert!(matches!(
            check_texts("Is Rust faster than Go?", "Is Go faster than Rust?"),
            Err(Mismatch::Direction(..))
        ));
    }

    #[test]
    fn prefixes_do_not_match_unrelated_words() {
        assert_eq!(check_texts("add the address field", "add the address field please"), Ok(()));
    }
}
