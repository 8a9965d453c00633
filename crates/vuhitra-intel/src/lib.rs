//! Prompt intelligence on top of the stores: when a cached answer may be
//! reused (scope, similarity and the guards against false hits), and which
//! earlier corrections apply to a new prompt. The stores only keep and find
//! things; every decision is made here, the same for every backend.

pub mod guards;
pub mod similarity;

use vuhitra_nlp::{sha256_hex, Analysis, Analyzer};
use vuhitra_store::{CacheEntry, HeuristicRecord, PromptCache, QueryVector, StoreError};

pub use guards::Mismatch;
pub use similarity::{dice, Similarity};

/// What must be equal for a cached answer to be reused, besides the prompt.
pub struct ScopeParts<'a> {
    pub model: &'a str,
    pub system: Option<&'a str>,
    pub temperature: Option<f32>,
    /// SHA-256 of each context file.
    pub context_hashes: &'a [String],
    /// The conversation before this prompt (role, content).
    pub history: &'a [(&'a str, &'a str)],
}

/// Temperatures that give answers of the same kind share a class, so 0.7
/// and 0.8 can share a cache entry but 0 and 1.2 cannot.
pub fn temperature_class(t: Option<f32>) -> &'static str {
    match t {
        None => "default",
        Some(t) if t < 0.3 => "deterministic",
        Some(t) if t <= 1.0 => "balanced",
        Some(_) => "creative",
    }
}

pub fn scope(p: &ScopeParts) -> String {
    let mut hashes = p.context_hashes.to_vec();
    hashes.sort();
    let mut text = format!(
        "model={}\u{1f}system={}\u{1f}temperature={}\u{1f}context={}",
        p.model,
        p.system.unwrap_or(""),
        temperature_class(p.temperature),
        hashes.join(",")
    );
    for (role, content) in p.history {
        text.push_str(&format!("\u{1f}{role}:{}", sha256_hex(content.as_bytes())));
    }
    sha256_hex(text.as_bytes())
}

/// The facts about a prompt the guards compare, in the form kept with a
/// cache entry (for display; the guards re-derive them from the text).
pub struct GuardFacts {
    pub negated: bool,
    pub numbers: Vec<String>,
    pub entities: Vec<String>,
}

pub fn guard_facts(a: &Analysis) -> GuardFacts {
    GuardFacts {
        negated: !a.negations.is_empty(),
        numbers: guards::numbers(a),
        entities: a
            .entities
            .iter()
            .filter(|e| guards::is_identity(e.kind))
            .map(|e| format!("{}:{}", e.kind.as_str(), e.text.to_lowercase()))
            .collect(),
    }
}

/// A cached answer judged reusable for a prompt.
#[derive(Debug, Clone)]
pub struct Hit {
    pub entry: CacheEntry,
    pub similarity: Similarity,
    /// The signature matched exactly.
    pub exact: bool,
}

/// A candidate that was close but refused, and why (for `--json` and logs).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub entry_id: String,
    pub similarity: Similarity,
    pub reason: String,
}

pub struct Decision {
    pub hit: Option<Hit>,
    pub refused: Vec<Refusal>,
    /// The most similar candidate that passed the guards but not the threshold.
    pub closest_below: Option<Similarity>,
}

/// Picks the most similar candidate that passes every guard and reaches the
/// threshold (an exact signature match needs no threshold, but still the
/// guards: "convert C to F" and "convert F to C" share a signature).
pub fn decide(
    analyzer: &Analyzer,
    prompt: &Analysis,
    signature: &str,
    vector: Option<(&str, &[f32])>,
    candidates: Vec<CacheEntry>,
    threshold: f64,
) -> Decision {
    let mut refused = Vec::new();
    let mut best: Option<Hit> = None;
    let mut closest_below: Option<Similarity> = None;
    for entry in candidates {
        let cached = analyzer.analyze(&entry.prompt);
        let sim = similarity::score(prompt, &cached, vector, &entry);
        let exact = entry.signature == signature;
        if let Err(m) = guards::check(analyzer, prompt, &cached) {
            refused.push(Refusal { entry_id: entry.id.clone(), similarity: sim, reason: m.to_string() });
            continue;
        }
        if !exact && sim.combined < threshold {
            if closest_below.is_none_or(|c| sim.combined > c.combined) {
                closest_below = Some(sim);
            }
            continue;
        }
        let rank = |h: &Hit| (h.exact, h.similarity.combined);
        let candidate = Hit { entry, similarity: sim, exact };
        if best.as_ref().is_none_or(|b| rank(&candidate) > rank(b)) {
            best = Some(candidate);
        }
    }
    Decision { hit: best, refused, closest_below }
}

/// The unexpired entry with the prompt's exact signature in this scope, if
/// it passes the guards ("convert C to F" and "convert F to C" share a
/// signature). Needs no embedding, so it is tried first.
pub async fn exact_hit<C: PromptCache>(
    cache: &C,
    analyzer: &Analyzer,
    prompt: &Analysis,
    signature: &str,
    scope: &str,
    now: i64,
) -> Result<Option<Hit>, StoreError> {
    let Some(entry) = cache.exact(scope, signature, now).await? else { return Ok(None) };
    Ok(decide(analyzer, prompt, signature, None, vec![entry], 1.0).hit)
}

/// A cache lookup: an exact signature match first, then BM25 and kNN
/// candidates from the store judged by `decide`.
#[allow(clippy::too_many_arguments)]
pub async fn lookup<C: PromptCache>(
    cache: &C,
    analyzer: &Analyzer,
    prompt: &Analysis,
    signature: &str,
    vector: Option<(&str, &[f32])>,
    scope: &str,
    threshold: f64,
    now: i64,
) -> Result<Decision, StoreError> {
    if let Some(hit) = exact_hit(cache, analyzer, prompt, signature, scope, now).await? {
        return Ok(Decision { hit: Some(hit), refused: Vec::new(), closest_below: None });
    }
    similar_hit(cache, analyzer, prompt, signature, vector, scope, threshold, now).await
}

/// The second half of `lookup`: BM25 and kNN candidates judged by `decide`,
/// for callers that tried `exact_hit` already.
#[allow(clippy::too_many_arguments)]
pub async fn similar_hit<C: PromptCache>(
    cache: &C,
    analyzer: &Analyzer,
    prompt: &Analysis,
    signature: &str,
    vector: Option<(&str, &[f32])>,
    scope: &str,
    threshold: f64,
    now: i64,
) -> Result<Decision, StoreError> {
    let query = vector.map(|(model, vector)| QueryVector { model, vector });
    let candidates = cache.candidates(scope, &terms_text(prompt), query, 5, now).await?;
    Ok(decide(analyzer, prompt, signature, vector, candidates, threshold))
}

/// What to keep of an answered prompt. One entry per scope and signature:
/// storing the same prompt again replaces it.
pub struct NewEntry<'a> {
    pub prompt: &'a str,
    pub analysis: &'a Analysis,
    pub signature: &'a str,
    pub scope: &'a str,
    pub answer: &'a str,
    pub model: &'a str,
    pub vector: Option<(String, Vec<f32>)>,
    pub ttl_ms: i64,
    pub now: i64,
}

pub fn cache_entry(n: NewEntry) -> CacheEntry {
    let facts = guard_facts(n.analysis);
    let (embed_model, embedding) = n.vector.map_or((None, None), |(m, v)| (Some(m), Some(v)));
    CacheEntry {
        id: sha256_hex(format!("{}\u{1f}{}", n.scope, n.signature).as_bytes())[..16].to_string(),
        scope: n.scope.to_string(),
        signature: n.signature.to_string(),
        prompt: n.prompt.to_string(),
        terms: terms_text(n.analysis),
        answer: n.answer.to_string(),
        model: n.model.to_string(),
        embed_model,
        embedding,
        negated: facts.negated,
        numbers: facts.numbers,
        entities: facts.entities,
        created_at: n.now,
        last_hit_at: None,
        hit_count: 0,
        expires_at: n.now.saturating_add(n.ttl_ms),
    }
}

/// The corrections worth showing the model for this prompt: from records
/// whose prompt is lexically close (Dice ≥ `min_overlap` on content terms)
/// and passes the same guards as a cache hit (a correction for "sort
/// ascending" says nothing about "sort descending").
pub fn applicable_corrections(
    analyzer: &Analyzer,
    prompt: &Analysis,
    found: Vec<HeuristicRecord>,
    min_overlap: f64,
    max: usize,
) -> Vec<HeuristicRecord> {
    found
        .into_iter()
        .filter(|r| r.correction.as_deref().is_some_and(|c| !c.trim().is_empty()))
        .filter(|r| {
            let earlier = analyzer.analyze(&r.prompt);
            dice(&prompt.terms, &earlier.terms) >= min_overlap && guards::check(analyzer, prompt, &earlier).is_ok()
        })
        .take(max)
        .collect()
}

/// Space-separated content terms: what BM25 indexes.
pub fn terms_text(a: &Analysis) -> String {
    a.terms.join(" ")
}

/// `kind:text` for every entity, as heuristics records keep them.
pub fn entity_labels(a: &Analysis) -> Vec<String> {
    a.entities.iter().map(|e| format!("{}:{}", e.kind.as_str(), e.text)).collect()
}
