//! How close two prompts are: embedding cosine (when both have a vector from
//! the same model) blended with the overlap of their content terms.

use serde::Serialize;
use vuhitra_nlp::Analysis;
use vuhitra_store::CacheEntry;

/// Weight of the embedding cosine in the blend. Words alone cannot see
/// synonyms and embeddings alone blur small edits; the guards catch the
/// edits that change the meaning.
const COSINE_WEIGHT: f64 = 0.7;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    /// Dice coefficient of the two sets of content terms.
    pub lexical: f64,
    pub cosine: Option<f64>,
    pub combined: f64,
}

pub fn dice(a: &[String], b: &[String]) -> f64 {
    use std::collections::HashSet;
    let (sa, sb): (HashSet<&String>, HashSet<&String>) = (a.iter().collect(), b.iter().collect());
    if sa.is_empty() && sb.is_empty() {
        return 1.0;
    }
    2.0 * sa.intersection(&sb).count() as f64 / (sa.len() + sb.len()) as f64
}

pub fn score(prompt: &Analysis, cached: &Analysis, vector: Option<(&str, &[f32])>, entry: &CacheEntry) -> Similarity {
    let lexical = dice(&prompt.terms, &cached.terms);
    let cosine = match (vector, entry.embed_model.as_deref(), entry.embedding.as_deref()) {
        (Some((model, q)), Some(m), Some(v)) if model == m && q.len() == v.len() => Some(vuhitra_store::cosine(q, v)),
        _ => None,
    };
    let combined = match cosine {
        Some(c) => COSINE_WEIGHT * c + (1.0 - COSINE_WEIGHT) * lexical,
        None => lexical,
    };
    Similarity { lexical, cosine, combined }
}
