//! The analysis patterns as DFAs compiled by build.rs. Loading one checks
//! the serialised bytes (about a millisecond for all of them) and borrows
//! them from the binary; nothing is compiled at run time.

use std::sync::LazyLock;

use regex_automata::dfa::{dense, regex::Regex};

/// The serialised bytes, aligned as `dense::DFA::from_bytes` requires.
#[repr(C)]
pub(crate) struct Aligned<B: ?Sized> {
    _align: [u32; 0],
    bytes: B,
}

include!(concat!(env!("OUT_DIR"), "/dfas.rs"));

pub type Dfa = Regex<dense::DFA<&'static [u32]>>;

/// Every pattern by its name (`word`, then the entity kinds in priority
/// order), loaded on first use.
pub(crate) static LOADED: LazyLock<Vec<(&'static str, Dfa)>> = LazyLock::new(|| {
    DFAS.iter()
        .map(|(name, fwd, rev)| {
            let load = |a: &'static Aligned<[u8]>| {
                dense::DFA::from_bytes(&a.bytes)
                    .unwrap_or_else(|e| panic!("build.rs wrote an unreadable DFA for {name}: {e}"))
                    .0
            };
            (*name, Regex::builder().build_from_dfas(load(fwd), load(rev)))
        })
        .collect()
});

/// The loaded DFA named `name` (a name from src/patterns.rs).
pub(crate) fn named(name: &str) -> &'static Dfa {
    &LOADED.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no pattern named {name}")).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prompt of the cache's labelled pair sets, and text chosen to
    /// probe where a DFA could part from the `regex` crate: case folding
    /// beyond ASCII (the Kelvin sign, long s), scripts and marks, emoji,
    /// NUL and control characters, word boundaries beside non-ASCII letters.
    fn corpus() -> Vec<String> {
        let mut texts: Vec<String> = [
            "Email ana@example.com the report at https://example.com/r?id=2 by Friday.",
            "Revenue grew 12.5% to $4,200.50 on 2024-03-01 at 10:30 am",
            "Load data/sales.csv and call parse_rows() in read_csv with qwen2.5-coder:7b",
            "How did Marie Curie get to Paris in 1898 with 3 friends?",
            "speed in km/h and TCP/IP, or read /etc/hosts ~/x/y.txt ../up/file.rs",
            "Use camelCase and Foo::bar, `inline code` and snake_case_name",
            "QWEN2.5 LLAMA3:8B \u{212a}ilometers \u{17f}ale Gemma-2b phi-3 gpt-4o",
            "Mar 3rd, 2024 and 3 March 2025, 12/31/99, tomorrow at 5pm and 17:45:10",
            "€5 £10.50 ¥300 100 dollars 2.5 million 3bn 7 EUR 40 percent 5 %",
            "Straße naïve café Über İstanbul ΑΒΓ δέλτα Привет мир 日本語のテキスト",
            "don't can’t it's 3.5 e.g. U.S.A. a.b.c ’tis o'clock",
            "emoji 🙂🎉 a\u{301} e\u{308} \u{0}\u{1}\t\r\n\u{a0}nbsp\u{2009}thin\u{200b}zero",
            "x@y.z a.b@c.de http://a ftp://b/c https://",
            "",
            "!!!???---...",
        ]
        .map(String::from)
        .to_vec();
        texts.push("word ".repeat(2000));
        // Read at run time: a test binary reused from a build in another
        // checkout (a shared target dir) carries that checkout's path.
        let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let bench = format!("{crate_dir}/../../bench");
        for file in ["cache-pairs.jsonl", "cache-pairs-holdout.jsonl", "cache-pairs-blind.jsonl"] {
            let path = format!("{bench}/{file}");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let pair: serde_json::Value = serde_json::from_str(line).unwrap();
                texts.extend(["a", "b"].map(|k| pair[k].as_str().unwrap().to_string()));
            }
        }
        assert!(texts.len() > 300, "the pair sets were read: {}", texts.len());
        texts
    }

    #[test]
    fn dfas_match_exactly_what_the_regex_crate_matches() {
        let mut sources = vec![("word", crate::patterns::WORD.to_string())];
        sources.extend(crate::patterns::entity_patterns());
        let names: Vec<&str> = LOADED.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, sources.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        let texts = corpus();
        for ((name, pattern), (_, dfa)) in sources.iter().zip(LOADED.iter()) {
            let re = regex::Regex::new(pattern).unwrap();
            for t in &texts {
                let want: Vec<_> = re.find_iter(t).map(|m| m.range()).collect();
                let got: Vec<_> = dfa.find_iter(t.as_str()).map(|m| m.range()).collect();
                assert_eq!(got, want, "pattern {name} on {t:?}");
            }
        }
    }

    #[test]
    fn every_entity_kind_has_a_pattern() {
        let kinds: Vec<&str> = crate::EntityKind::ALL.iter().map(|k| k.as_str()).collect();
        for (name, _) in crate::patterns::entity_patterns() {
            assert!(kinds.contains(&name), "{name} names no EntityKind");
        }
        assert_eq!(crate::patterns::entity_patterns().len(), kinds.len());
    }
}
