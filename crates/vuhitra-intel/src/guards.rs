//! Guards against the false hits semantic caches are known for. Two prompts
//! can be close in wording and embedding yet need different answers: one
//! negates the other, asks about another number or name, swaps one word for
//! another ("invoices" / "payments"), asks for the opposite operation, or
//! swaps the direction ("X to Y" / "Y to X"). Any of these refuses a hit,
//! however similar the prompts are.

use std::collections::HashSet;

use vuhitra_nlp::{is_stop_word, Analysis, Analyzer, EntityKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Negation,
    Numbers { ours: Vec<String>, theirs: Vec<String> },
    Entity(String),
    Substitution(String, String),
    Opposite(String, String),
    Direction(String, String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Negation => write!(f, "one prompt is negated and the other is not"),
            Mismatch::Numbers { ours, theirs } => write!(f, "different numbers ({} vs {})", list(ours), list(theirs)),
            Mismatch::Entity(e) => write!(f, "{e} appears in only one prompt"),
            Mismatch::Substitution(a, b) => write!(f, "one word differs ({a} vs {b})"),
            Mismatch::Opposite(a, b) => write!(f, "opposite requests ({a} vs {b})"),
            Mismatch::Direction(a, b) => write!(f, "{a} and {b} swap sides"),
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

/// Number words that fix a quantity. "one" and "first" are left out: they
/// are as often a pronoun or "top" ("write one", "the first row").
#[rustfmt::skip]
const NUMBER_WORDS: &[&str] = &[
    "zero", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "twenty", "hundred", "thousand", "million", "billion", "dozen", "half", "quarter", "double", "twice",
    "triple", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];

/// Languages, libraries and tools a workbench user names in lower case as
/// often as not; capitalisation cannot find them, so they are listed.
/// Ambiguous English words ("go", "make", "rest", "node") are left out.
#[rustfmt::skip]
const TECHNOLOGIES: &[&str] = &[
    "python", "rust", "golang", "java", "javascript", "typescript", "kotlin", "scala", "ruby", "php", "perl",
    "swift", "c++", "c#", "haskell", "elixir", "lua", "julia", "bash", "zsh", "powershell", "sql", "postgresql",
    "mysql", "sqlite", "mariadb", "mongodb", "redis", "elasticsearch", "kafka", "spark", "pyspark", "hadoop",
    "pandas", "polars", "numpy", "scipy", "matplotlib", "seaborn", "plotly", "sklearn", "scikit-learn", "pytorch",
    "tensorflow", "keras", "django", "flask", "fastapi", "react", "vue", "angular", "svelte", "nodejs", "deno",
    "npm", "yarn", "pip", "conda", "cargo", "tokio", "docker", "podman", "kubernetes", "helm", "terraform",
    "ansible", "git", "svn", "github", "gitlab", "linux", "windows", "macos", "ubuntu", "debian", "fedora",
    "alpine", "nginx", "vim", "neovim", "emacs", "vscode", "excel", "csv", "json", "yaml", "toml", "xml",
    "parquet", "html", "css", "markdown", "latex", "aws", "azure", "gcp", "ollama", "llama", "gemma", "mistral",
    "qwen", "duckdb", "datafusion", "jupyter", "cmake", "gcc", "clang", "llvm", "wasm", "webassembly", "grpc",
    "graphql", "ssh", "gpg", "openssl", "curl", "wget", "awk", "sed", "grep", "jq", "systemd", "cron", "dplyr",
    "ggplot2", "tidyverse", "gsutil", "pytest", "unittest", "jest", "mocha", "junit", "airflow", "dbt",
    "snowflake", "bigquery", "sheets", "numbers", "libreoffice",
];

/// Other names of the same technology.
#[rustfmt::skip]
const TECH_ALIASES: &[(&str, &str)] = &[
    ("go", "golang"), ("postgres", "postgresql"), ("psql", "postgresql"), ("kubectl", "kubernetes"),
    ("k8s", "kubernetes"), ("js", "javascript"), ("ts", "typescript"), ("py", "python"), ("torch", "pytorch"),
    ("node", "nodejs"), ("node.js", "nodejs"), ("mac", "macos"), ("osx", "macos"), ("sh", "bash"),
];

/// Words that ask for the same thing, compared by stem ("remove" and
/// "delete", "repo" and "repository"). A one-word swap outside these
/// groups is a different request.
#[rustfmt::skip]
const SYNONYMS: &[&[&str]] = &[
    &["remove", "delete", "drop", "erase", "eliminate", "get rid"],
    &["show", "display", "list", "print", "view", "see", "output"],
    &["create", "make", "generate", "build", "produce", "set up", "setup", "add"],
    &["explain", "describe", "what", "meaning", "mean", "definition", "define"],
    &["write", "draft", "compose", "code", "implement"],
    &["check", "verify", "test", "validate", "confirm"],
    &["get", "fetch", "retrieve", "obtain", "find", "read", "load", "extract", "unpack", "return"],
    &["run", "execute", "launch", "start", "perform", "do"],
    &["change", "modify", "update", "edit", "alter", "amend", "rename", "set"],
    &["fix", "repair", "resolve", "solve", "debug"],
    &["search", "locate", "look", "lookup", "find", "query"],
    &["convert", "transform", "turn", "cast", "parse", "change"],
    &["combine", "merge", "join", "concatenate", "concat"],
    &["iterate", "loop", "traverse", "go"],
    &["big", "large", "huge", "largest", "biggest", "larger", "bigger", "greater"],
    &["small", "little", "tiny", "smallest", "smaller"],
    &["error", "mistake", "bug", "issue", "problem"],
    &["summary", "summarize", "summarise", "overview", "recap", "tldr"],
    &["job", "position", "role"],
    &["repo", "repository"], &["app", "application"], &["db", "database"], &["dir", "directory", "folder"],
    &["config", "configuration", "settings"], &["env", "environment"], &["var", "variable"],
    &["func", "function", "method"], &["info", "information", "details"], &["docs", "documentation"],
    &["stats", "statistics"], &["img", "image", "picture"], &["msg", "message"], &["num", "number", "count"],
    &["str", "string", "text"], &["int", "integer"], &["args", "arguments"], &["params", "parameters"],
    &["max", "maximum"], &["min", "minimum"], &["ml", "machine learning"], &["regex", "regular expression"],
    &["daily", "every day"], &["unique", "distinct", "dedupe", "deduplicate"], &["machine", "computer", "host"],
    &["terminal", "shell", "command line", "console", "cli"], &["short", "brief", "concise"],
    &["polite", "courteous"], &["decline", "turn down", "refuse"], &["reply", "response", "answer", "respond"],
    &["email", "mail", "message"], &["column", "field"], &["row", "record", "line"], &["top", "first"],
    &["table", "dataframe", "frame"], &["paragraph", "text", "passage"], &["error", "exception"],
];

/// Word pairs that ask for opposite things, as prefixes of the word forms
/// (so "ascending" matches "ascend"); see `has_form`.
#[rustfmt::skip]
const OPPOSITES: &[(&str, &str)] = &[
    ("ascend", "descend"), ("increas", "decreas"), ("larg", "small"), ("big", "small"), ("max", "min"),
    ("maximum", "minimum"), ("highest", "lowest"), ("high", "low"), ("most", "least"), ("encrypt", "decrypt"),
    ("compress", "decompress"), ("serializ", "deserializ"), ("serialis", "deserialis"), ("encod", "decod"),
    ("enabl", "disabl"), ("start", "stop"), ("push", "pull"), ("import", "export"), ("upload", "download"),
    ("add", "remov"), ("add", "drop"), ("add", "delet"), ("insert", "delet"), ("append", "prepend"),
    ("upper", "lower"), ("uppercase", "lowercase"), ("before", "after"), ("first", "last"),
    ("earliest", "latest"), ("oldest", "newest"), ("older", "newer"), ("open", "clos"), ("left", "right"),
    ("inner", "outer"), ("true", "false"), ("read", "writ"), ("show", "hid"), ("lock", "unlock"),
    ("install", "uninstall"), ("zip", "unzip"), ("expand", "collaps"), ("above", "below"), ("input", "output"),
    ("accept", "reject"), ("allow", "deny"), ("allow", "block"), ("includ", "exclud"),
    ("horizontal", "vertical"), ("fast", "slow"), ("plus", "minus"), ("positive", "negative"),
    ("better", "worse"), ("best", "worst"), ("buy", "sell"), ("win", "los"), ("merg", "split"),
    ("join", "split"), ("wide", "long"), ("join", "leav"), ("connect", "disconnect"), ("mount", "unmount"),
    ("forward", "backward"), ("up", "down"), ("in", "out"), ("on", "off"), ("more", "less"), ("more", "fewer"),
    ("for", "against"), ("over", "under"), ("inside", "outside"), ("pro", "con"), ("higher", "lower"),
];

/// Endings allowed after a prefix in `OPPOSITES`, so "add" does not match
/// "address" nor "lat" "latitude".
#[rustfmt::skip]
const ENDINGS: &[&str] = &[
    "", "s", "e", "es", "ed", "d", "ing", "er", "ers", "est", "ion", "ions", "ly", "ize", "ise", "ation", "ment",
    "ure", "ger", "gest", "ten", "t", "ting", "ally", "imum",
];

/// Whether a word is `prefix` plus one of `ENDINGS`; two-letter words
/// ("up", "in") only match themselves.
fn has_form(words: &HashSet<String>, prefix: &str) -> bool {
    if prefix.len() <= 2 {
        return words.contains(prefix);
    }
    words.iter().any(|w| w.strip_prefix(prefix).is_some_and(|rest| ENDINGS.contains(&rest)))
}

/// Words that relate what is on their left to what is on their right, so
/// swapping the two sides changes the request.
#[rustfmt::skip]
const DIRECTION_WORDS: &[&str] = &[
    "to", "into", "from", "than", "vs", "versus", "onto", "over", "before", "after", "when", "while", "instead",
    "rather", "unlike",
];

/// Lowercase tokens, with possessives also without their 's ("rust's").
fn lower_words(a: &Analysis) -> HashSet<String> {
    let mut words = HashSet::new();
    for t in &a.tokens {
        let w = t.to_lowercase().replace('’', "'");
        if let Some(stem) = w.strip_suffix("'s") {
            words.insert(stem.to_string());
        }
        words.insert(w);
    }
    words
}

/// Every run of digits in the prompt ("2GB" gives 2, "v3.12" gives 3.12),
/// and number words, sorted: money, percentages, dates, sizes and versions
/// all come down to their digits.
pub fn numbers(a: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &a.tokens {
        let mut run = String::new();
        for c in t.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() || (c == '.' && !run.is_empty()) {
                run.push(c);
            } else if !run.is_empty() {
                out.push(run.trim_end_matches('.').to_string());
                run.clear();
            }
        }
        let lower = t.to_lowercase();
        if NUMBER_WORDS.contains(&lower.as_str()) {
            out.push(lower);
        }
    }
    out.sort();
    out
}

fn canonical_tech(word: &str) -> Option<&'static str> {
    TECH_ALIASES
        .iter()
        .find(|(alias, _)| *alias == word)
        .map(|(_, name)| *name)
        .or_else(|| TECHNOLOGIES.iter().find(|t| **t == word).copied())
}

/// Technologies a prompt names, by canonical name; dotted, dashed and
/// slashed tokens count by their parts ("unittest.mock", "pytest-mock").
fn technologies(words: &HashSet<String>) -> HashSet<&'static str> {
    let parts = words.iter().flat_map(|w| w.split(['.', '-', '/']).map(str::to_string));
    words.iter().cloned().chain(parts).filter_map(|w| canonical_tech(&w)).collect()
}

/// Names, paths, URLs, emails and identifiers the prompt mentions
/// (lowercase). A capital on the first word is grammar, not a name; names
/// that are technologies are compared as technologies.
fn identities(a: &Analysis) -> Vec<String> {
    a.entities
        .iter()
        .filter(|e| is_identity(e.kind) && !(e.kind == EntityKind::Name && e.start == 0))
        .map(|e| e.text.to_lowercase())
        .filter(|e| canonical_tech(e).is_none())
        .collect()
}

/// Whether `phrase` occurs in `text` (both lowercase) between word boundaries.
fn mentions(text: &str, phrase: &str) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    let mut start = 0;
    while let Some(i) = text[start..].find(phrase) {
        let at = start + i;
        let end = at + phrase.len();
        if boundary(text[..at].chars().next_back()) && boundary(text[end..].chars().next()) {
            return true;
        }
        start = at + phrase.len().max(1);
    }
    false
}

/// Whether two stems mean the same: equal, forms of one word ("paint" /
/// "painter", "convert" / "convers": a shared start of 5 letters or more
/// covering most of the shorter), or in one synonym group.
fn same_meaning(analyzer: &Analyzer, a: &str, b: &str) -> bool {
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    if a == b || (shorter >= 4 && shared == shorter) || (shared >= 5 && shared * 4 >= shorter * 3) {
        return true;
    }
    SYNONYMS.iter().any(|group| {
        let stems: Vec<String> = group.iter().map(|w| analyzer.stem(w)).collect();
        stems.iter().any(|s| s == a) && stems.iter().any(|s| s == b)
    })
}

/// Negated: a negation word, or a "non-" word ("non-blank", "nonzero").
fn negated(a: &Analysis) -> bool {
    !a.negations.is_empty()
        || a.tokens.iter().any(|t| {
            let lower = t.to_lowercase();
            lower == "non" || (lower.starts_with("non") && lower.len() > 5 && !NON_WORDS.contains(&lower.as_str()))
        })
}

/// Words that start with "non" without negating anything.
const NON_WORDS: &[&str] = &["nonce", "nonces", "nonetheless", "nonsense"];

pub fn check(analyzer: &Analyzer, ours: &Analysis, theirs: &Analysis) -> Result<(), Mismatch> {
    if negated(ours) != negated(theirs) {
        return Err(Mismatch::Negation);
    }
    let (n1, n2) = (numbers(ours), numbers(theirs));
    if n1 != n2 {
        return Err(Mismatch::Numbers { ours: n1, theirs: n2 });
    }
    let (text1, text2) = (ours.text.to_lowercase(), theirs.text.to_lowercase());
    for (ids, other) in [(identities(ours), &text2), (identities(theirs), &text1)] {
        if let Some(missing) = ids.into_iter().find(|e| !mentions(other, e)) {
            return Err(Mismatch::Entity(missing));
        }
    }
    let (w1, w2) = (lower_words(ours), lower_words(theirs));
    let (t1, t2) = (technologies(&w1), technologies(&w2));
    if let Some(only) = t1.symmetric_difference(&t2).next() {
        return Err(Mismatch::Entity(only.to_string()));
    }
    opposites(&w1, &w2)?;
    substitution(analyzer, ours, theirs)?;
    direction(analyzer, (ours, &w1), (theirs, &w2))
}

fn opposites(w1: &HashSet<String>, w2: &HashSet<String>) -> Result<(), Mismatch> {
    for &(a, b) in OPPOSITES {
        let (ours_a, ours_b, theirs_a, theirs_b) = (has_form(w1, a), has_form(w1, b), has_form(w2, a), has_form(w2, b));
        if (ours_a && !ours_b && theirs_b && !theirs_a) || (ours_b && !ours_a && theirs_a && !theirs_b) {
            return Err(Mismatch::Opposite(a.into(), b.into()));
        }
    }
    // un-/de-/dis- forms of a word the other prompt has: "install" vs "uninstall".
    for (x, y) in [(w1, w2), (w2, w1)] {
        for w in x.iter().filter(|w| w.len() >= 4) {
            for p in ["un", "de", "dis"] {
                let negated = format!("{p}{w}");
                if y.contains(&negated) && !x.contains(&negated) && !y.contains(w) {
                    return Err(Mismatch::Opposite(w.clone(), negated));
                }
            }
        }
    }
    Ok(())
}

/// Exactly one content word swapped, in the same place, for another that
/// does not mean the same ("the invoices table" / "the payments table",
/// "every morning at 8" / "every evening at 8"): the rest of the request is
/// the same, so the swapped word is the point. A different word elsewhere
/// ("what does COALESCE do" / "explain COALESCE") is a rewording.
fn substitution(analyzer: &Analyzer, ours: &Analysis, theirs: &Analysis) -> Result<(), Mismatch> {
    let (s1, s2): (HashSet<&String>, HashSet<&String>) = (ours.terms.iter().collect(), theirs.terms.iter().collect());
    let unmatched = |from: &HashSet<&String>, to: &HashSet<&String>| -> Vec<String> {
        from.iter()
            .filter(|t| !to.contains(*t))
            .filter(|t| !to.iter().filter(|u| !from.contains(*u)).any(|u| same_meaning(analyzer, t, u)))
            .map(|t| t.to_string())
            .collect()
    };
    let (only1, only2) = (unmatched(&s1, &s2), unmatched(&s2, &s1));
    if only1.len() != 1 || only2.len() != 1 {
        return Ok(());
    }
    let neighbours = |terms: &[String], word: &str| {
        let i = terms.iter().position(|t| t == word).expect("an unmatched term is one of the terms");
        (i.checked_sub(1).map(|p| terms[p].clone()), terms.get(i + 1).cloned())
    };
    let (n1, n2) = (neighbours(&ours.terms, &only1[0]), neighbours(&theirs.terms, &only2[0]));
    if n1 == n2 && n1 != (None, None) {
        return Err(Mismatch::Substitution(only1[0].clone(), only2[0].clone()));
    }
    Ok(())
}

/// Each occurrence of a direction word that joins two content words, with
/// its position and the nearest content word on each side. "how to" and
/// "want to" join nothing.
fn joins(a: &Analysis) -> Vec<(usize, String, String, String)> {
    let lower: Vec<String> = a.tokens.iter().map(|t| t.to_lowercase()).collect();
    let content = |w: &str| w.chars().next().is_some_and(char::is_alphanumeric) && !is_stop_word(w);
    let mut out = Vec::new();
    for (i, w) in lower.iter().enumerate().filter(|(_, w)| DIRECTION_WORDS.contains(&w.as_str())) {
        let prev = lower[..i].iter().rev().find(|w| content(w));
        let next = lower[i + 1..].iter().find(|w| content(w));
        if let (Some(prev), Some(next)) = (prev, next) {
            if !NOT_DIRECTIONAL.contains(&prev.as_str()) {
                out.push((i, w.clone(), prev.clone(), next.clone()));
            }
        }
    }
    out
}

/// Words before "to" that make it part of a verb, not a direction.
const NOT_DIRECTIONAL: &[&str] =
    &["want", "need", "way", "able", "trying", "try", "going", "like", "used", "use", "have", "has", "how"];

/// When both prompts join things with the same direction word, the things
/// must not swap sides: "UTC to local" / "local to UTC", "from downloads to
/// desktop" / "from desktop to downloads", "Rust faster than Go" / "Go
/// faster than Rust". A join with the same words on both sides in the
/// other prompt settles it; otherwise a word before the direction word in
/// one prompt that is after it in the other, and one the other way round,
/// mean a swap.
fn direction(
    analyzer: &Analyzer,
    (ours, w1): (&Analysis, &HashSet<String>),
    (theirs, w2): (&Analysis, &HashSet<String>),
) -> Result<(), Mismatch> {
    let (j1, j2) = (joins(ours), joins(theirs));
    let words = |a: &Analysis, range: std::ops::Range<usize>| -> HashSet<String> {
        // Stemmed, so "investing" and "invest" are one word.
        a.tokens[range]
            .iter()
            .map(|t| t.to_lowercase())
            .filter(|w| !is_stop_word(w))
            .map(|w| analyzer.stem(&w))
            .collect()
    };
    for (i1, word, prev1, next1) in &j1 {
        let same_word: Vec<_> = j2.iter().filter(|(_, w, _, _)| w == word).collect();
        if same_word.iter().any(|(_, _, p, n)| p == prev1 && n == next1) {
            continue;
        }
        // The same start, then the other's continuation: "names from last
        // to first" / "names from first to last".
        if let Some((_, _, _, next2)) = same_word.iter().find(|(_, _, p, n)| p == prev1 && n != next1) {
            if w2.contains(next1) && w1.contains(next2) {
                return Err(Mismatch::Direction(next1.clone(), next2.clone()));
            }
        }
        for (i2, ..) in same_word {
            let (before1, after1) = (words(ours, 0..*i1), words(ours, i1 + 1..ours.tokens.len()));
            let (before2, after2) = (words(theirs, 0..*i2), words(theirs, i2 + 1..theirs.tokens.len()));
            let crossed = |b: &HashSet<String>, a: &HashSet<String>, b2: &HashSet<String>, a2: &HashSet<String>| {
                b.iter().find(|w| !a.contains(*w) && a2.contains(*w) && !b2.contains(*w)).cloned()
            };
            let forward = crossed(&before1, &after1, &before2, &after2);
            let backward = crossed(&after1, &before1, &after2, &before2);
            if let (Some(x), Some(y)) = (forward, backward) {
                return Err(Mismatch::Direction(x, y));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_texts(a: &str, b: &str) -> Result<(), Mismatch> {
        let an = Analyzer::new();
        check(&an, &an.analyze(a), &an.analyze(b))
    }

    #[test]
    fn rewordings_pass() {
        for (a, b) in [
            ("How do I sort a list in Python?", "how to sort python list"),
            ("What is the capital of France?", "capital of France?"),
            ("Explain what a Python decorator does", "what does a decorator do in python"),
            ("convert celsius to fahrenheit", "Celsius to Fahrenheit conversion"),
            ("How do I convert a column to datetime in pandas?", "pandas convert column to datetime"),
            ("Please explain the borrow checker in Rust", "explain Rust's borrow checker"),
            ("Proofread this sentence", "proofread this sentence please"),
            ("How do I delete a local git branch?", "remove a local branch in git"),
            ("How do I clone a git repository?", "clone a git repo"),
            ("How do I parse command-line flags in Go?", "parse command line flags in a golang program"),
            ("What is the subnet mask for a /24 network?", "subnet mask of a /24 network"),
            (
                "How do I upload a file to Google Cloud Storage with gsutil?",
                "gsutil command to upload a file to google cloud storage",
            ),
        ] {
            assert_eq!(check_texts(a, b), Ok(()), "{a} / {b}");
        }
    }

    #[test]
    fn near_duplicates_are_refused_with_the_reason() {
        use Mismatch::*;
        let refused = |a: &str, b: &str| check_texts(a, b).expect_err(&format!("{a} / {b} must be refused"));
        assert_eq!(refused("Which columns have null values?", "Which columns have no null values?"), Negation);
        assert!(matches!(refused("Show the first 10 rows", "Show the first 100 rows"), Numbers { .. }));
        assert!(matches!(refused("second highest salary", "third highest salary"), Numbers { .. }));
        assert!(matches!(refused("Run it with 2GB of memory", "Run it with 8GB of memory"), Numbers { .. }));
        assert!(matches!(refused("capital of France", "capital of Spain"), Entity(_)));
        assert!(matches!(refused("sort a list in python", "sort a list in rust"), Entity(_)));
        assert!(matches!(refused("sort a list", "sort a list in rust"), Entity(_)));
        assert!(matches!(refused("sort the table ascending", "sort the table descending"), Opposite(..)));
        assert!(matches!(refused("how to install numpy", "how to uninstall numpy"), Opposite(..)));
        assert!(matches!(refused("add a column", "drop a column"), Opposite(..)));
        assert!(matches!(refused("How do I zoom in on a plot?", "How do I zoom out on a plot?"), Opposite(..)));
        assert!(matches!(
            refused("Count rows in the invoices table", "Count rows in the payments table"),
            Substitution(..)
        ));
        assert!(matches!(refused("Send a reminder every morning", "Send a reminder every evening"), Substitution(..)));
        assert!(matches!(refused("convert celsius to fahrenheit", "convert fahrenheit to celsius"), Direction(..)));
        assert!(matches!(refused("Is Rust faster than Go?", "Is Go faster than Rust?"), Direction(..)));
        assert!(matches!(refused("pay off debt before investing", "invest before paying off debt"), Direction(..)));
        assert!(matches!(refused("count blank cells", "count non-blank cells"), Negation));
        assert!(matches!(refused("mock it with unittest.mock", "mock it with pytest-mock"), Entity(_)));
        assert!(matches!(refused("Convert UTC time to local time", "Convert local time to UTC time"), Direction(..)));
        assert!(matches!(
            refused(
                "Move the file from the downloads folder to the desktop",
                "Move the file from the desktop to the downloads folder"
            ),
            Direction(..)
        ));
    }

    #[test]
    fn prefixes_do_not_match_unrelated_words() {
        assert_eq!(check_texts("add the address field", "add the address field please"), Ok(()));
        assert!(!mentions("trust me", "rust") && mentions("in rust.", "rust"));
    }
}
