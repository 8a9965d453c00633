//! Finding the chunks a question needs: vector similarity (the question
//! embedded by the collection's own model), BM25, or both fused by
//! reciprocal rank. RRF needs no score calibration between the two
//! methods: each list contributes weight / (K + rank), so a chunk ranked
//! well by both beats one ranked first by one alone.

use serde::Serialize;
use vuhitra_llm::ChatModel;
use vuhitra_store::vectors::{CollectionInfo, ScoredChunk, SearchFilter, VectorStore};

use crate::RagError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Hybrid,
    Vector,
    Bm25,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hybrid => "hybrid",
            Mode::Vector => "vector",
            Mode::Bm25 => "bm25",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "hybrid" => Ok(Mode::Hybrid),
            "vector" => Ok(Mode::Vector),
            "bm25" => Ok(Mode::Bm25),
            _ => Err(format!("{s:?} is not a mode: hybrid, vector or bm25")),
        }
    }
}

/// The RRF constant: 60 is the value of the original paper (Cormack et
/// al. 2009) and damps the difference between ranks 1 and 2.
pub const RRF_K: f32 = 60.0;

/// Each method's weight in the fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub vector: f32,
    pub bm25: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { vector: 1.0, bm25: 1.0 }
    }
}

pub struct SearchRequest<'a> {
    pub query: &'a str,
    pub top_k: usize,
    pub mode: Mode,
    pub filter: SearchFilter,
    pub weights: Weights,
}

/// A ranked chunk: its score under the mode asked for (cosine, BM25, or
/// the fused RRF score), and its rank in each list it was found in.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub chunk: ScoredChunk,
    pub vector_rank: Option<usize>,
    pub bm25_rank: Option<usize>,
}

/// How deep each list is read before fusing: a chunk ranked 40th by one
/// method can still win when the other ranks it high.
fn depth(top_k: usize) -> usize {
    (top_k * 4).max(40)
}

pub async fn search(
    store: &impl VectorStore,
    model: &impl ChatModel,
    info: &CollectionInfo,
    req: &SearchRequest<'_>,
) -> Result<Vec<Hit>, RagError> {
    let k = req.top_k.max(1);
    let deep = if req.mode == Mode::Hybrid { depth(k) } else { k };
    let by_vector = if req.mode == Mode::Bm25 {
        Vec::new()
    } else {
        let q = crate::ingest::embed(model, &info.embed_model, &[req.query.to_string()]).await?;
        store.vector_search(&info.name, &q[0], deep, &req.filter).await?
    };
    let by_text = if req.mode == Mode::Vector {
        Vec::new()
    } else {
        store.text_search(&info.name, req.query, deep, &req.filter).await?
    };
    Ok(match req.mode {
        Mode::Vector => ranked(by_vector, true),
        Mode::Bm25 => ranked(by_text, false),
        Mode::Hybrid => fuse(by_vector, by_text, req.weights, k),
    })
}

fn ranked(list: Vec<ScoredChunk>, vector: bool) -> Vec<Hit> {
    list.into_iter()
        .enumerate()
        .map(|(i, chunk)| Hit { chunk, vector_rank: vector.then_some(i + 1), bm25_rank: (!vector).then_some(i + 1) })
        .collect()
}

/// Reciprocal-rank fusion of two ranked lists; ties go to the earlier file
/// and chunk, so results are the same every run.
pub fn fuse(by_vector: Vec<ScoredChunk>, by_text: Vec<ScoredChunk>, w: Weights, k: usize) -> Vec<Hit> {
    let mut hits: Vec<(f32, Hit)> = Vec::new();
    let mut place = |chunk: ScoredChunk, rank: usize, vector: bool| {
        let add = if vector { w.vector } else { w.bm25 } / (RRF_K + rank as f32);
        match hits.iter_mut().find(|(_, h)| h.chunk.path == chunk.path && h.chunk.seq == chunk.seq) {
            Some((score, h)) => {
                *score += add;
                if vector {
                    h.vector_rank = Some(rank);
                } else {
                    h.bm25_rank = Some(rank);
                }
            }
            None => hits
                .push((add, Hit { chunk, vector_rank: vector.then_some(rank), bm25_rank: (!vector).then_some(rank) })),
        }
    };
    for (i, c) in by_vector.into_iter().enumerate() {
        place(c, i + 1, true);
    }
    for (i, c) in by_text.into_iter().enumerate() {
        place(c, i + 1, false);
    }
    hits.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| a.1.chunk.path.cmp(&b.1.chunk.path)).then(a.1.chunk.seq.cmp(&b.1.chunk.seq))
    });
    hits.truncate(k);
    hits.into_iter()
        .map(|(score, mut h)| {
            h.chunk.score = score;
            h
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(path: &str, seq: u32) -> ScoredChunk {
        ScoredChunk { path: path.into(), seq, lines: (1, 2), headings: vec![], text: String::new(), score: 0.0 }
    }

    #[test]
    fn a_chunk_both_methods_rank_well_beats_one_ranked_first_by_one_alone() {
        let by_vector = vec![chunk("a", 0), chunk("both", 0), chunk("c", 0)];
        let by_text = vec![chunk("d", 0), chunk("both", 0), chunk("e", 0)];
        let hits = fuse(by_vector, by_text, Weights::default(), 3);
        assert_eq!(hits[0].chunk.path, "both");
        assert_eq!((hits[0].vector_rank, hits[0].bm25_rank), (Some(2), Some(2)));
        assert_eq!(hits.len(), 3);
        assert!(hits[0].chunk.score > hits[1].chunk.score);
    }

    #[test]
    fn weights_tilt_the_fusion_toward_one_method() {
        let hits = fuse(vec![chunk("v", 0)], vec![chunk("t", 0)], Weights { vector: 1.0, bm25: 2.0 }, 2);
        assert_eq!(hits[0].chunk.path, "t");
        let hits = fuse(vec![chunk("v", 0)], vec![chunk("t", 0)], Weights { vector: 2.0, bm25: 1.0 }, 2);
        assert_eq!(hits[0].chunk.path, "v");
    }

    #[test]
    fn equal_scores_are_ordered_by_path_then_chunk() {
        let hits = fuse(vec![chunk("b", 1)], vec![chunk("a", 3)], Weights::default(), 5);
        assert_eq!(hits.iter().map(|h| h.chunk.path.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
