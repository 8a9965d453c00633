//! Prompt analysis: tokens, stemmed content terms, negation markers,
//! entities, sentiment (VADER, with parity to vaderSentiment 3.3.2), intent
//! with a confidence, key phrases, and prompt signatures.
//!
//! Everything here is rule-based and runs in microseconds: it is applied to
//! every prompt before the model is called.

mod dfa;
mod entities;
mod intent;
mod lexicon;
#[cfg(test)]
mod patterns;

pub use lexicon::{is_negation, is_stop_word};

use std::sync::LazyLock;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use entities::{Entity, EntityKind};
pub use intent::{Intent, IntentKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
    /// positive / negative / neutral, by VADER's usual ±0.05 compound cut-offs.
    pub label: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The text analysed.
    #[serde(skip)]
    pub text: String,
    pub tokens: Vec<String>,
    /// Content words, lowercased and stemmed, stop words removed, in order.
    pub terms: Vec<String>,
    pub negations: Vec<String>,
    pub entities: Vec<Entity>,
    pub sentiment: Sentiment,
    pub intent: Intent,
    pub key_phrases: Vec<String>,
    pub signature: Signatures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signatures {
    /// SHA-256 of the normalised meaning: content terms, numbers, entities, negation.
    pub nlp: String,
    /// SHA-256 of the exact text.
    pub hash: String,
}

impl Signatures {
    /// The signature under `mode`.
    pub fn get(&self, mode: SignatureMode) -> &str {
        match mode {
            SignatureMode::Nlp => &self.nlp,
            SignatureMode::Hash => &self.hash,
        }
    }
}

/// How prompts are identified (PROMPT_SIGNATURE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMode {
    Nlp,
    Hash,
}

impl SignatureMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "nlp" => Some(SignatureMode::Nlp),
            "hash" => Some(SignatureMode::Hash),
            _ => None,
        }
    }
}

/// The VADER tables. Parsing them (about 11,000 lexicon and emoji lines)
/// takes a few milliseconds, so it happens once per process, on first use,
/// or ahead of it on another thread ([`warm_up`]).
static VADER: LazyLock<vader_parity::SentimentIntensityAnalyzer> =
    LazyLock::new(vader_parity::SentimentIntensityAnalyzer::new);

/// Starts building what analysis needs (the VADER tables, then the pattern
/// DFAs) on another thread, for a process that will analyse a prompt soon.
/// Its first analysis then finds them built, or waits only for the rest.
pub fn warm_up() {
    // If no thread can be started, the first analysis builds them itself.
    let _ = std::thread::Builder::new().name("nlp-warm-up".into()).spawn(|| {
        LazyLock::force(&VADER);
        LazyLock::force(&dfa::LOADED);
    });
}

/// Analyses prompts. Cheap to make: the costly parts (the VADER tables and
/// the pattern DFAs) are process-wide and built once, on first use.
pub struct Analyzer {
    stemmer: rust_stemmers::Stemmer,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        Analyzer { stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English) }
    }

    pub fn sentiment(&self, text: &str) -> Sentiment {
        let s = VADER.polarity_scores(text);
        let label = if s.compound >= 0.05 {
            "positive"
        } else if s.compound <= -0.05 {
            "negative"
        } else {
            "neutral"
        };
        Sentiment { compound: s.compound, pos: s.pos, neu: s.neu, neg: s.neg, label }
    }

    pub fn analyze(&self, text: &str) -> Analysis {
        let tokens = tokenize(text);
        let words: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| is_word(t)).collect();
        let negations: Vec<String> =
            words.iter().filter(|w| lexicon::is_negation(w)).map(|w| w.to_lowercase()).collect();
        let terms = self.terms(&words);
        let entities = entities::find(text);
        let intent = intent::classify(text, &words, &entities);
        let key_phrases = key_phrases(text, 5);
        let signature =
            Signatures { nlp: self.nlp_signature(&terms, &negations, &entities), hash: hash_signature(text) };
        let sentiment = self.sentiment(text);
        Analysis {
            text: text.to_string(),
            tokens,
            terms,
            negations,
            entities,
            sentiment,
            intent,
            key_phrases,
            signature,
        }
    }

    pub fn signature(&self, text: &str, mode: SignatureMode) -> String {
        match mode {
            SignatureMode::Hash => hash_signature(text),
            SignatureMode::Nlp => self.analyze(text).signature.nlp,
        }
    }

    /// The Snowball stem of one lowercase word, as terms are stemmed.
    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    fn terms(&self, words: &[&str]) -> Vec<String> {
        words
            .iter()
            .map(|w| w.to_lowercase().replace('’', "'"))
            .filter(|w| !lexicon::is_stop_word(w) && !lexicon::is_negation(w))
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// Rewordings share it ("How do I sort a list in Python?" and "how to
    /// sort python list"); another number, entity or a negation changes it.
    fn nlp_signature(&self, terms: &[String], negations: &[String], entities: &[Entity]) -> String {
        let mut parts: Vec<String> = terms.to_vec();
        for e in entities {
            // Numbers and names are already terms; the rest (URLs, paths,
            // money, dates…) are kept whole so "$5" and "$50" differ.
            if !matches!(e.kind, EntityKind::Number | EntityKind::Name) {
                parts.push(format!("{:?}={}", e.kind, e.text.to_lowercase()));
            }
        }
        parts.sort();
        parts.dedup();
        if !negations.is_empty() {
            parts.push("!negated".into());
        }
        sha256_hex(parts.join("\u{1f}").as_bytes())
    }
}

pub fn hash_signature(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Words (with inner apostrophes and dots, as in "don't" or "3.5"), and each
/// other non-space character as a token of its own.
pub fn tokenize(text: &str) -> Vec<String> {
    dfa::named("word").find_iter(text).map(|m| text[m.range()].to_string()).collect()
}

fn is_word(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Key phrases by RAKE: runs of content words between stop words and
/// punctuation, scored by the degree-to-frequency ratio of their words.
pub fn key_phrases(text: &str, max: usize) -> Vec<String> {
    let mut phrases: Vec<Vec<String>> = vec![Vec::new()];
    for tok in tokenize(text) {
        let lower = tok.to_lowercase();
        if !is_word(&tok) || lexicon::is_stop_word(&lower) || lexicon::is_negation(&lower) {
            if !phrases.last().is_some_and(Vec::is_empty) {
                phrases.push(Vec::new());
            }
        } else {
            phrases.last_mut().expect("never empty").push(lower);
        }
    }
    phrases.retain(|p| !p.is_empty() && !p.iter().all(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.')));
    let mut freq = std::collections::HashMap::<&str, f64>::new();
    let mut degree = std::collections::HashMap::<&str, f64>::new();
    for p in &phrases {
        for w in p {
            *freq.entry(w).or_default() += 1.0;
            *degree.entry(w).or_default() += p.len() as f64;
        }
    }
    let mut scored: Vec<(f64, String)> =
        phrases.iter().map(|p| (p.iter().map(|w| degree[w.as_str()] / freq[w.as_str()]).sum(), p.join(" "))).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, p) in scored {
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() == max {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewordings_share_an_nlp_signature() {
        let a = Analyzer::new();
        let s = |t| a.signature(t, SignatureMode::Nlp);
        assert_eq!(s("How do I sort a list in Python?"), s("how to sort python list"));
        assert_eq!(s("Explain the difference between TCP and UDP"), s("explain difference between udp and tcp"));
        assert_eq!(s("What is the capital of France?"), s("what's the capital of france"));
    }

    #[test]
    fn numbers_entities_and_negation_change_the_signature() {
        let a = Analyzer::new();
        let s = |t| a.signature(t, SignatureMode::Nlp);
        assert_ne!(s("sort a list of 5 items"), s("sort a list of 50 items"));
        assert_ne!(s("How do I sort a list in Python?"), s("How do I sort a list in Rust?"));
        assert_ne!(s("Is this code thread safe?"), s("Is this code not thread safe?"));
        assert_ne!(s("Why shouldn't I use unwrap?"), s("Why should I use unwrap?"));
        assert_ne!(s("convert $5 to euros"), s("convert $50 to euros"));
        assert_ne!(s("open data.csv"), s("open data.tsv"));
    }

    #[test]
    fn hash_signature_is_the_exact_text() {
        let a = Analyzer::new();
        assert_ne!(a.signature("Sort a list", SignatureMode::Hash), a.signature("sort a list", SignatureMode::Hash));
        assert_eq!(hash_signature("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn tokens_terms_and_negations() {
        let a = Analyzer::new().analyze("I don't want the running dogs, never!");
        assert_eq!(a.tokens, ["I", "don't", "want", "the", "running", "dogs", ",", "never", "!"]);
        assert_eq!(a.terms, ["want", "run", "dog"]);
        assert_eq!(a.negations, ["don't", "never"]);
    }

    #[test]
    fn sentiment_follows_vader() {
        let a = Analyzer::new();
        let s = a.sentiment("VADER is smart, handsome, and funny!");
        assert_eq!(s.label, "positive");
        assert_eq!(s.compound, 0.8439);
        assert_eq!(a.sentiment("This is horrible.").label, "negative");
        assert_eq!(a.sentiment("The table has four columns.").label, "neutral");
    }

    #[test]
    fn key_phrases_rank_multiword_content() {
        let k = key_phrases("Compute the rolling average of daily sales for the last quarter", 3);
        assert!(k.contains(&"rolling average".to_string()) && k.contains(&"daily sales".to_string()), "{k:?}");
        assert!(!k.contains(&"compute".to_string()), "a lone word ranks below two-word phrases: {k:?}");
    }

    #[test]
    fn empty_and_odd_input_do_not_panic() {
        let a = Analyzer::new();
        for t in ["", "   ", "!!!", "🙂", "\u{0}", "a\u{301}", &"x".repeat(100_000)] {
            let r = a.analyze(t);
            assert_eq!(r.signature.hash.len(), 64);
        }
    }

    #[test]
    fn signature_mode_parses() {
        assert_eq!(SignatureMode::parse("NLP"), Some(SignatureMode::Nlp));
        assert_eq!(SignatureMode::parse("hash"), Some(SignatureMode::Hash));
        assert_eq!(SignatureMode::parse("md5"), None);
    }
}
