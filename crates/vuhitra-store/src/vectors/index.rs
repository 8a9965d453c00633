//! In-memory search structures both backends use: a flat vector index
//! scanned with a dot product, and a BM25 inverted index for the Redis
//! backend (the embedded one has FTS5).

use std::collections::HashMap;

/// Vectors of one dimension in one contiguous buffer, so a scan streams
/// through memory and the dot product vectorises.
#[derive(Debug, Clone, Default)]
pub struct VectorIndex {
    dims: usize,
    data: Vec<f32>,
}

impl VectorIndex {
    pub fn new(dims: usize) -> Self {
        VectorIndex { dims, data: Vec::new() }
    }

    pub fn with_capacity(dims: usize, rows: usize) -> Self {
        VectorIndex { dims, data: Vec::with_capacity(dims * rows) }
    }

    /// Adds a row; a vector of another length is padded or cut to fit (a
    /// store never mixes dimensions, so this only guards the arithmetic).
    pub fn push(&mut self, v: &[f32]) {
        let n = v.len().min(self.dims);
        self.data.extend_from_slice(&v[..n]);
        self.data.extend(std::iter::repeat_n(0.0, self.dims - n));
    }

    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dims).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k` rows with the highest dot product with `q`, best first,
    /// among the rows `admit` lets through; ties go to the earlier row.
    pub fn top_k(&self, q: &[f32], k: usize, admit: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
        if self.dims == 0 || k == 0 || q.len() != self.dims {
            return Vec::new();
        }
        let mut best = TopK::new(k);
        for (row, v) in self.data.chunks_exact(self.dims).enumerate() {
            let score = dot(q, v);
            if best.would_take(score) && admit(row) {
                best.offer(row, score);
            }
        }
        best.into_sorted()
    }
}

/// Eight independent sums let the compiler use SIMD lanes without
/// reassociating a single running sum.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The best `k` (row, score) pairs seen so far, kept sorted; k is small
/// (tens), so insertion into a short vector beats a heap.
struct TopK {
    k: usize,
    items: Vec<(usize, f32)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK { k, items: Vec::with_capacity(k + 1) }
    }

    fn would_take(&self, score: f32) -> bool {
        self.items.len() < self.k || self.items.last().is_some_and(|&(_, s)| score > s)
    }

    fn offer(&mut self, row: usize, score: f32) {
        let at = self.items.partition_point(|&(_, s)| s >= score);
        self.items.insert(at, (row, score));
        self.items.truncate(self.k);
    }

    fn into_sorted(self) -> Vec<(usize, f32)> {
        self.items
    }
}

/// The words BM25 matches on: lowercased runs of letters and digits, with
/// English stemming so "sorting" finds "sorted"; the same rule for
/// documents and queries.
pub fn terms(text: &str) -> Vec<String> {
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| stemmer.stem(&w.to_lowercase()).into_owned())
        .collect()
}

/// Okapi BM25 (k1 = 1.2, b = 0.75, the usual defaults, as FTS5 uses).
#[derive(Debug, Clone, Default)]
pub struct Bm25Index {
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    total_len: u64,
}

const K1: f32 = 1.2;
const B: f32 = 0.75;

impl Bm25Index {
    pub fn add(&mut self, text: &str) {
        let doc = self.doc_len.len() as u32;
        let words = terms(text);
        let mut tf: HashMap<String, u32> = HashMap::new();
        for w in &words {
            *tf.entry(w.clone()).or_default() += 1;
        }
        for (w, n) in tf {
            self.postings.entry(w).or_default().push((doc, n));
        }
        self.doc_len.push(words.len() as u32);
        self.total_len += words.len() as u64;
    }

    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// The `k` best documents for `query`, best first; a document matching
    /// no query term is never returned.
    pub fn top_k(&self, query: &str, k: usize, admit: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let n = self.doc_len.len() as f32;
        if n == 0.0 || k == 0 {
            return Vec::new();
        }
        let avg = self.total_len as f32 / n;
        let mut q = terms(query);
        q.sort();
        q.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for term in &q {
            let Some(list) = self.postings.get(term) else { continue };
            let df = list.len() as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(doc, tf) in list {
                let tf = tf as f32;
                let len = self.doc_len[doc as usize] as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg.max(1.0)));
                *scores.entry(doc).or_default() += s;
            }
        }
        let mut ranked: Vec<(usize, f32)> =
            scores.into_iter().map(|(d, s)| (d as usize, s)).filter(|&(d, _)| admit(d)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_returns_the_most_similar_rows_best_first_and_honours_the_filter() {
        let mut idx = VectorIndex::new(3);
        for v in [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7, 0.7, 0.0], [0.9, 0.1, 0.0]] {
            idx.push(&v);
        }
        let got = idx.top_k(&[1.0, 0.0, 0.0], 2, |_| true);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 3]);
        let filtered = idx.top_k(&[1.0, 0.0, 0.0], 2, |r| r != 0);
        assert_eq!(filtered.iter().map(|g| g.0).collect::<Vec<_>>(), [3, 2]);
        assert!(idx.top_k(&[1.0, 0.0], 2, |_| true).is_empty(), "a query of another dimension matches nothing");
    }

    #[test]
    fn dot_matches_the_plain_sum_for_lengths_that_are_not_multiples_of_eight() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }

    #[test]
    fn bm25_ranks_the_document_with_the_rare_term_first_and_skips_non_matches() {
        let mut idx = Bm25Index::default();
        idx.add("the cat sat on the mat");
        idx.add("sorting lists in python with sorted()");
        idx.add("the dog and the cat");
        let got = idx.top_k("how do I sort a list", 5, |_| true);
        assert_eq!(got.first().map(|g| g.0), Some(1), "stemming matches sort/sorting and list/lists");
        assert_eq!(got.len(), 1, "documents without a query term are not returned");
        let cats = idx.top_k("cat", 5, |_| true);
        assert_eq!(cats.len(), 2);
    }
}
