//! In-memory search structures both backends use: a flat vector index
//! scanned with a dot product, and a BM25 inverted index for the Redis
//! backend (the embedded one has FTS5).

use std::collections::HashMap;

/// Vectors of one dimension, quantised to int8 with one scale per row, in
/// one contiguous buffer: a query streams through a quarter of the bytes
/// the f32 vectors take, and the integer dot product vectorises. The codes
/// only choose candidates; the caller rescores those exactly with the full
/// vectors (`rerank`), so quantisation error can only matter for a row
/// that falls outside `rerank_depth(k)` candidates.
#[derive(Debug, Clone, Default)]
pub struct VectorIndex {
    dims: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

/// Rows scored on the codes per wanted hit: the exact rerank sees this
/// many times k (and a few more for small k).
pub fn rerank_depth(k: usize) -> usize {
    k.saturating_mul(4).saturating_add(16)
}

/// Below this many rows one thread scans faster than two start.
const PARALLEL_ROWS: usize = 32_768;

impl VectorIndex {
    pub fn new(dims: usize) -> Self {
        VectorIndex { dims, codes: Vec::new(), scales: Vec::new() }
    }

    pub fn with_capacity(dims: usize, rows: usize) -> Self {
        VectorIndex { dims, codes: Vec::with_capacity(dims * rows), scales: Vec::with_capacity(rows) }
    }

    /// Adds a row; a vector of another length is padded or cut to fit (a
    /// store never mixes dimensions, so this only guards the arithmetic).
    pub fn push(&mut self, v: &[f32]) {
        let n = v.len().min(self.dims);
        let scale = quantize_into(&v[..n], &mut self.codes);
        self.codes.extend(std::iter::repeat_n(0, self.dims - n));
        self.scales.push(scale);
    }

    pub fn len(&self) -> usize {
        self.scales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// The rows most likely to be the `k` nearest to `q` among those
    /// `admit` lets through: the best `rerank_depth(k)` by the int8 dot
    /// product, best first. Large indexes are scanned on every core.
    pub fn candidates(&self, q: &[f32], k: usize, admit: impl Fn(usize) -> bool + Sync) -> Vec<usize> {
        if self.dims == 0 || k == 0 || q.len() != self.dims || self.is_empty() {
            return Vec::new();
        }
        let mut query = Vec::with_capacity(self.dims);
        quantize_into(q, &mut query);
        let depth = rerank_depth(k);
        let rows = self.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(rows / PARALLEL_ROWS).max(1);
        let per = rows.div_ceil(threads);
        let scan = |from: usize| scan_rows(self, &query, from..(from + per).min(rows), depth, &admit);
        let parts: Vec<TopK> = if threads == 1 {
            vec![scan(0)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || scan(t * per))).collect();
                handles.into_iter().map(|h| h.join().expect("a scan thread panicked")).collect()
            })
        };
        // Parts cover rising row ranges, so offering them in order keeps
        // ties with the earlier row.
        let mut best = TopK::new(depth);
        for (row, score) in parts.into_iter().flat_map(TopK::into_sorted) {
            if best.would_take(score) {
                best.offer(row, score);
            }
        }
        best.into_sorted().into_iter().map(|(row, _)| row).collect()
    }

    fn row(&self, row: usize) -> &[i8] {
        &self.codes[row * self.dims..(row + 1) * self.dims]
    }
}

/// The exact top `k` of `candidates` (row, full vector) by dot product with
/// `q`, best first; ties go to the earlier row.
pub fn rerank<'a>(q: &[f32], k: usize, candidates: impl IntoIterator<Item = (usize, &'a [f32])>) -> Vec<(usize, f32)> {
    let mut scored: Vec<(usize, f32)> = candidates.into_iter().map(|(row, v)| (row, dot(q, v))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

/// Appends `v` as int8 codes (round(x / scale), scale = max|x| / 127) and
/// returns the scale; a zero vector gets scale 0 and zero codes.
fn quantize_into(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = max / 127.0;
    if scale == 0.0 || !scale.is_finite() {
        out.extend(std::iter::repeat_n(0, v.len()));
        return 0.0;
    }
    out.extend(v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// The best `depth` rows of `range` by approximate score (the row's scale
/// times the integer dot product; the query's own scale is the same for
/// every row, so it is left out). Chooses the widest instructions this CPU
/// has, once per scan.
fn scan_rows(
    index: &VectorIndex,
    query: &[i8],
    range: std::ops::Range<usize>,
    depth: usize,
    admit: &impl Fn(usize) -> bool,
) -> TopK {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just checked to support AVX2.
        return unsafe { scan_rows_avx2(index, query, range, depth, admit) };
    }
    scan_rows_portable(index, query, range, depth, admit)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_rows_avx2(
    index: &VectorIndex,
    query: &[i8],
    range: std::ops::Range<usize>,
    depth: usize,
    admit: &impl Fn(usize) -> bool,
) -> TopK {
    // The same loop, compiled again with AVX2 enabled: the inlined integer
    // dot product becomes 256-bit multiply-adds.
    scan_rows_portable(index, query, range, depth, admit)
}

#[inline(always)]
fn scan_rows_portable(
    index: &VectorIndex,
    query: &[i8],
    range: std::ops::Range<usize>,
    depth: usize,
    admit: &impl Fn(usize) -> bool,
) -> TopK {
    let mut best = TopK::new(depth);
    for row in range {
        let score = index.scales[row] * dot_i8(query, index.row(row)) as f32;
        if best.would_take(score) && admit(row) {
            best.offer(row, score);
        }
    }
    best
}

/// Sixteen independent integer sums (each product fits in i16, each sum in
/// i32 for any realistic dimension) so the loop maps onto SIMD lanes.
#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] as i32 * y[i] as i32;
        }
    }
    let tail: i32 = ra.iter().zip(rb).map(|(&x, &y)| x as i32 * y as i32).sum();
    acc.iter().sum::<i32>() + tail
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

/// The terms BM25 matches on: each word lowercased and stemmed (English),
/// so "sorting" finds "sorted"; `Bm25Index::add` applies the same rule to
/// documents, stemming each distinct word once.
fn stems<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    let mut lower = String::new();
    words.into_iter().map(|w| stemmer.stem(lowercase_into(&mut lower, w)).into_owned()).collect()
}

/// `word` lowercased, in a buffer reused from word to word.
fn lowercase_into<'b>(buf: &'b mut String, word: &str) -> &'b str {
    buf.clear();
    buf.extend(word.chars().flat_map(char::to_lowercase));
    buf
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// The words of a query worth matching: its words without the English
/// function words ("how", "do", "the", ...), which match nearly every
/// chunk, weigh almost nothing in BM25 and make a large collection's
/// search score most of its chunks; all of them when that leaves none.
pub fn query_words(query: &str) -> Vec<&str> {
    let all: Vec<&str> = words(query).collect();
    let content: Vec<&str> = all.iter().copied().filter(|w| !is_stopword(w)).collect();
    if content.is_empty() {
        all
    } else {
        content
    }
}

fn is_stopword(word: &str) -> bool {
    // Short function words only: a longer word is kept even if common.
    const STOP: &[&str] = &[
        "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for",
        "from", "get", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no",
        "not", "of", "on", "or", "our", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there",
        "these", "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "while", "who",
        "why", "will", "with", "would", "you", "your",
    ];
    word.len() <= 5 && STOP.iter().any(|s| s.eq_ignore_ascii_case(word))
}

/// Okapi BM25 (k1 = 1.2, b = 0.75, the usual defaults, as FTS5 uses).
/// Terms are numbered as they first appear, and each distinct lowercased
/// word is stemmed once (`stem_of`): building the index for a large
/// collection is then a hash lookup per word, not a stemmer run.
#[derive(Debug, Clone, Default)]
pub struct Bm25Index {
    /// Term id → (document, term frequency) of every document with it.
    postings: Vec<Vec<(u32, u32)>>,
    /// Stemmed term → id.
    ids: HashMap<String, u32>,
    /// Lowercased word → its term's id.
    stem_of: HashMap<String, u32>,
    doc_len: Vec<u32>,
    total_len: u64,
}

const K1: f32 = 1.2;
const B: f32 = 0.75;

impl Bm25Index {
    pub fn add(&mut self, text: &str) {
        let doc = self.doc_len.len() as u32;
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
        let mut lower = String::new();
        let mut ids: Vec<u32> = words(text)
            .map(|w| {
                let lower = lowercase_into(&mut lower, w);
                if let Some(&id) = self.stem_of.get(lower) {
                    return id;
                }
                let stem = stemmer.stem(lower).into_owned();
                let next = self.ids.len() as u32;
                let id = *self.ids.entry(stem).or_insert(next);
                if id == next {
                    self.postings.push(Vec::new());
                }
                self.stem_of.insert(lower.to_string(), id);
                id
            })
            .collect();
        let len = ids.len();
        // Term frequencies by sorting the ids: no map per document.
        ids.sort_unstable();
        for run in ids.chunk_by(|a, b| a == b) {
            self.postings[run[0] as usize].push((doc, run.len() as u32));
        }
        self.doc_len.push(len as u32);
        self.total_len += len as u64;
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
        let mut q = stems(query_words(query));
        q.sort();
        q.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for term in &q {
            let Some(&id) = self.ids.get(term) else { continue };
            let list = &self.postings[id as usize];
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
    use std::collections::HashSet;

    use super::*;

    /// Exact search through the index's two steps, as the backends do it.
    fn search(
        idx: &VectorIndex,
        full: &[Vec<f32>],
        q: &[f32],
        k: usize,
        admit: impl Fn(usize) -> bool + Sync,
    ) -> Vec<usize> {
        let rows = idx.candidates(q, k, admit);
        rerank(q, k, rows.iter().map(|&r| (r, full[r].as_slice()))).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn search_returns_the_most_similar_rows_best_first_and_honours_the_filter() {
        let full: Vec<Vec<f32>> =
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7, 0.7, 0.0], [0.9, 0.1, 0.0]].iter().map(|v| v.to_vec()).collect();
        let mut idx = VectorIndex::new(3);
        full.iter().for_each(|v| idx.push(v));
        assert_eq!(search(&idx, &full, &[1.0, 0.0, 0.0], 2, |_| true), [0, 3]);
        assert_eq!(search(&idx, &full, &[1.0, 0.0, 0.0], 2, |r| r != 0), [3, 2]);
        assert!(idx.candidates(&[1.0, 0.0], 2, |_| true).is_empty(), "a query of another dimension matches nothing");
    }

    /// xorshift64*, for reproducible random unit vectors.
    fn random_units(seed: u64, n: usize, dims: usize) -> Vec<Vec<f32>> {
        let mut s = seed;
        let mut next = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..dims).map(|_| next()).collect();
                crate::vectors::normalize(&mut v);
                v
            })
            .collect()
    }

    #[test]
    fn quantised_candidates_with_the_exact_rerank_find_what_a_full_scan_finds() {
        // Enough rows for the parallel scan; random vectors are the hard
        // case (their similarities crowd together).
        let (dims, k) = (64, 40);
        let full = random_units(1, PARALLEL_ROWS * 2 + 123, dims);
        let mut idx = VectorIndex::with_capacity(dims, full.len());
        full.iter().for_each(|v| idx.push(v));
        let (mut found, mut wanted) = (0, 0);
        for q in random_units(2, 20, dims) {
            let mut exact: Vec<(usize, f32)> = full.iter().enumerate().map(|(r, v)| (r, dot(&q, v))).collect();
            exact.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let truth: HashSet<usize> = exact[..k].iter().map(|e| e.0).collect();
            let got = search(&idx, &full, &q, k, |_| true);
            assert_eq!(got[0], exact[0].0, "the nearest row is always found");
            found += got.iter().filter(|r| truth.contains(r)).count();
            wanted += k;
        }
        let recall = found as f64 / wanted as f64;
        assert!(recall >= 0.99, "recall@{k} of the quantised search is {recall:.3}");
    }

    #[test]
    fn a_zero_vector_is_stored_and_matches_nothing_better_than_a_real_one() {
        let full = vec![vec![0.0, 0.0], vec![0.6, 0.8]];
        let mut idx = VectorIndex::new(2);
        full.iter().for_each(|v| idx.push(v));
        assert_eq!(search(&idx, &full, &[0.6, 0.8], 2, |_| true), [1, 0]);
    }

    #[test]
    fn the_integer_dot_product_matches_the_plain_sum() {
        let a: Vec<i8> = (0..37).map(|i| (i * 7 % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..37).map(|i| (127 - i * 5 % 255) as i8).collect();
        let plain: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
        assert_eq!(dot_i8(&a, &b), plain);
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
        let repeated = idx.top_k("cat cat", 5, |_| true);
        assert_eq!(repeated, cats, "a repeated query word counts once");
    }

    #[test]
    fn function_words_are_left_out_of_a_query_unless_it_has_nothing_else() {
        assert_eq!(query_words("How do I sort a list?"), ["sort", "list"]);
        assert_eq!(query_words("to be or not to be"), ["to", "be", "or", "not", "to", "be"]);
        assert_eq!(query_words("The Their theory"), ["theory"], "case does not matter; longer words stay");
    }

    #[test]
    fn bm25_term_frequency_counts_each_occurrence() {
        let mut idx = Bm25Index::default();
        idx.add("parse parse parse json");
        idx.add("parse json json");
        idx.add("unrelated text here");
        let got = idx.top_k("parse", 3, |_| true);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1], "three occurrences outrank one");
    }
}
