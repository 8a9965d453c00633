// The regular expressions prompt analysis runs, as source text, in one place
// for the two that need them: build.rs, which includes this file and
// compiles each pattern to a DFA at build time, and the equivalence test,
// which checks those DFAs against the `regex` crate. Compiling them at run
// time cost the first analysis in a process ~7 ms (release), more than a
// whole cache hit should. Plain `std` only, as build.rs includes it.

/// The tokenizer: words (with inner apostrophes and dots, as in "don't" or
/// "3.5"), and each other non-space character as a token of its own.
pub const WORD: &str = r"[\p{L}\p{N}_]+(?:['’.][\p{L}\p{N}_]+)*|[^\s\p{L}\p{N}_]";

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// These kinds are ASCII by nature, so `\b`, `\w` and `\d` are compiled as
/// their ASCII forms (with the Unicode word boundary a DFA cannot be built
/// at all, and the Unicode classes make it several times larger).
fn ascii_classes(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)").replace(r"\w", "[0-9A-Za-z_]").replace(r"\d", "[0-9]")
}

/// The entity patterns in priority order (where matches overlap, the earlier
/// kind wins), each under its `EntityKind::as_str` name.
pub fn entity_patterns() -> Vec<(&'static str, String)> {
    let p = |name: &'static str, pattern: &str| (name, ascii_classes(pattern));
    vec![
        p("url", r#"\b(?:https?|ftp)://[^\s<>"'`)\]]+"#),
        p("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
        // A family name followed by a version, size or tag ("llama3:8b",
        // "phi-3", "gpt-4o"), so "philosophy" is not a model.
        p(
            "model_name",
            r"(?i)\b(?:llama|codellama|qwen|gemma|mistral|mixtral|phi|deepseek|gpt|claude|starcoder|falcon|vicuna|tinyllama|nomic-embed-text|all-minilm|granite|command-r)(?:[\d.]|[-:]\w)[\w.\-]*(?::[\w.\-]+)?",
        ),
        p(
            "date",
            &format!(
                r"(?i)\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}(?:\s+\d{{4}})?\b|\b(?:yesterday|today|tomorrow|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
            ),
        ),
        p("time", r"(?i)\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]m)?\b|\b\d{1,2}\s?[ap]m\b"),
        // Absolute or ./ ~/ paths, or relative ones ending in a file name with an extension.
        p(
            "file_path",
            r"(?:~|\.{1,2})?(?:/[\w.\-]+)+/?|\b[\w\-]+(?:/[\w.\-]+)*/[\w\-]+\.\w{1,8}\b|\b[\w\-]+\.(?:rs|py|js|ts|go|java|c|h|cpp|md|txt|csv|tsv|json|ndjson|parquet|xlsx|xls|yaml|yml|toml|sql|html|sh|log|pdf|ipynb)\b",
        ),
        p(
            "money",
            r"(?i)[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?|\b\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b",
        ),
        p("percentage", r"(?i)\b\d+(?:\.\d+)?\s?(?:%|percent\b)"),
        p(
            "code_identifier",
            r"`[^`\n]+`|\b[A-Za-z_]\w*(?:::\w+)+|\b[A-Za-z_]\w*\(\)|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[a-z]+(?:[A-Z][a-z0-9]+)+\b",
        ),
        p("number", r"\b\d[\d,]*(?:\.\d+)?\b"),
        p("name", r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b"),
    ]
}
