//! Chunking: size bound, nothing dropped, overlap, sections, line ranges,
//! linear time on huge input, and the token estimate.

use std::time::{Duration, Instant};

use vuhitra_docs::{chunk, estimate_tokens, Block, Chunk, ChunkSpec};

fn prose(text: &str, lines: (u32, u32), headings: &[&str]) -> Block {
    Block { text: text.to_string(), lines, headings: headings.iter().map(|s| s.to_string()).collect(), code: false }
}

fn code(text: &str, first_line: u32) -> Block {
    let n = u32::try_from(text.lines().count()).unwrap();
    Block { text: text.to_string(), lines: (first_line, first_line + n - 1), headings: vec![], code: true }
}

fn spec(max_tokens: usize, overlap_tokens: usize) -> ChunkSpec {
    ChunkSpec { max_tokens, overlap_tokens }
}

fn non_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn sentences(n: usize, tag: &str) -> String {
    (0..n).map(|i| format!("{tag} sentence {i} carries a few more words.")).collect::<Vec<_>>().join(" ")
}

/// The longest run of words ending `prev` that also starts `next`.
fn shared_words(prev: &str, next: &str) -> usize {
    let p: Vec<&str> = prev.split_whitespace().collect();
    let n: Vec<&str> = next.split_whitespace().collect();
    (1..=p.len().min(n.len())).rev().find(|&k| p[p.len() - k..] == n[..k]).unwrap_or(0)
}

fn assert_bounded(chunks: &[Chunk], max: usize, count: &dyn Fn(&str) -> usize) {
    for c in chunks {
        let n = count(&c.text);
        assert!(n <= max, "chunk of {n} > {max} tokens: {:?}", c.text);
        assert_eq!(c.tokens, n, "tokens field is the count of the text");
    }
}

#[test]
fn every_chunk_fits_and_nothing_is_dropped_without_overlap() {
    let giant_word = "x".repeat(3000);
    let long_code_line = format!("let s = \"{}\";", "ab ".repeat(400));
    let blocks = vec![
        prose("Short intro.", (1, 1), &[]),
        prose(&sentences(40, "Big"), (3, 3), &[]),
        prose(&format!("before {giant_word} after"), (5, 5), &[]),
        prose("日本語の文章です。これは二番目の文です。漢字仮名交じり文。", (7, 7), &[]),
        code(&format!("fn main() {{\n    {long_code_line}\n}}\n"), 9),
        prose("Tail paragraph in another section.", (20, 20), &["Other"]),
    ];
    let max = 40;
    let chunks = chunk(&blocks, &spec(max, 0), &estimate_tokens);
    assert_bounded(&chunks, max, &estimate_tokens);
    let source: String = blocks.iter().map(|b| non_ws(&b.text)).collect();
    let packed: String = chunks.iter().map(|c| non_ws(&c.text)).collect();
    assert_eq!(packed, source, "chunks without overlap concatenate back to the input");
    // Whole words survive wherever the block had a word boundary.
    let words: Vec<&str> = blocks[1].text.split_whitespace().collect();
    let chunk_words: Vec<&str> = chunks.iter().flat_map(|c| c.text.split_whitespace()).collect();
    assert!(chunk_words.windows(words.len()).any(|w| w == words.as_slice()));
}

#[test]
fn a_counter_that_is_not_additive_still_bounds_every_chunk() {
    // Joining blocks costs extra under this counter, so summed unit counts
    // underestimate: the packer must notice and shrink the chunk.
    let count = |s: &str| s.len() / 4 + if s.contains("\n\n") { 25 } else { 0 };
    let blocks: Vec<Block> =
        (0..30).map(|i| prose(&format!("Block {i} has a handful of words in it."), (i, i), &[])).collect();
    let max = 40;
    let chunks = chunk(&blocks, &spec(max, 0), &count);
    assert_bounded(&chunks, max, &count);
    let source: String = blocks.iter().map(|b| non_ws(&b.text)).collect();
    let packed: String = chunks.iter().map(|c| non_ws(&c.text)).collect();
    assert_eq!(packed, source);
}

#[test]
fn consecutive_chunks_of_a_section_overlap_by_about_the_overlap_budget() {
    let blocks = vec![prose(&sentences(60, "One"), (1, 1), &["Sec"])];
    let (max, overlap) = (60, 16);
    let chunks = chunk(&blocks, &spec(max, overlap), &estimate_tokens);
    assert!(chunks.len() >= 4, "{}", chunks.len());
    assert_bounded(&chunks, max, &estimate_tokens);
    for pair in chunks.windows(2) {
        let k = shared_words(&pair[0].text, &pair[1].text);
        assert!(k > 0, "no overlap between {:?} and {:?}", pair[0].text, pair[1].text);
        let shared: Vec<&str> = pair[1].text.split_whitespace().take(k).collect();
        let shared_tokens = estimate_tokens(&shared.join(" "));
        assert!(shared_tokens <= overlap, "overlap of {shared_tokens} tokens");
        // Whole sentences: the shared text starts a sentence.
        assert!(shared[0] == "One", "overlap starts mid-sentence: {shared:?}");
    }
    // Every word is still there, in order.
    let all: Vec<&str> = chunks.iter().flat_map(|c| c.text.split_whitespace()).collect();
    let mut it = all.iter();
    for w in blocks[0].text.split_whitespace() {
        assert!(it.any(|x| *x == w), "lost {w}");
    }
}

#[test]
fn a_long_sentence_overlaps_by_trailing_words() {
    let words: Vec<String> = (0..400).map(|i| format!("w{i}")).collect();
    let blocks = vec![prose(&words.join(" "), (1, 1), &[])];
    let chunks = chunk(&blocks, &spec(50, 10), &estimate_tokens);
    assert_bounded(&chunks, 50, &estimate_tokens);
    for pair in chunks.windows(2) {
        let k = shared_words(&pair[0].text, &pair[1].text);
        assert!((1..=10).contains(&k), "shared {k} words");
    }
}

#[test]
fn overlap_spans_block_boundaries_within_a_section_but_never_sections() {
    let mut blocks: Vec<Block> = (0..12)
        .map(|i| prose(&format!("Alpha block {i} says one short thing."), (i * 2 + 1, i * 2 + 1), &["A"]))
        .collect();
    blocks.push(prose(&sentences(20, "Beta"), (40, 40), &["B"]));
    let chunks = chunk(&blocks, &spec(40, 10), &estimate_tokens);
    let alpha: Vec<&Chunk> = chunks.iter().filter(|c| c.headings == ["A"]).collect();
    let beta: Vec<&Chunk> = chunks.iter().filter(|c| c.headings == ["B"]).collect();
    assert!(alpha.len() >= 2 && beta.len() >= 2);
    assert_eq!(alpha.len() + beta.len(), chunks.len());
    for pair in alpha.windows(2) {
        assert!(shared_words(&pair[0].text, &pair[1].text) > 0);
    }
    assert!(!beta[0].text.contains("Alpha"), "section B starts clean: {:?}", beta[0].text);
    assert!(beta[0].text.starts_with("Beta sentence 0"));
    assert!(alpha.iter().all(|c| !c.text.contains("Beta")));
}

#[test]
fn blocks_of_different_heading_paths_never_share_a_chunk() {
    let blocks =
        vec![prose("First.", (1, 1), &["X"]), prose("Second.", (2, 2), &["Y"]), prose("Third.", (3, 3), &["X"])];
    let chunks = chunk(&blocks, &spec(100, 10), &estimate_tokens);
    let got: Vec<(&str, Vec<String>)> = chunks.iter().map(|c| (c.text.as_str(), c.headings.clone())).collect();
    assert_eq!(
        got,
        vec![("First.", vec!["X".to_string()]), ("Second.", vec!["Y".to_string()]), ("Third.", vec!["X".to_string()]),]
    );
}

#[test]
fn a_block_that_fits_alone_is_moved_whole_to_the_next_chunk() {
    let a = sentences(3, "Aa"); // 30 tokens
    let b = sentences(3, "Bb");
    let blocks = vec![prose(&a, (1, 1), &[]), prose(&b, (3, 3), &[])];
    let chunks = chunk(&blocks, &spec(50, 0), &estimate_tokens);
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, [a.as_str(), b.as_str()]);
    assert_eq!(chunks[1].lines, (3, 3));
}

#[test]
fn small_blocks_are_packed_together_with_a_blank_line_between() {
    let blocks = vec![prose("One.", (1, 1), &["H"]), prose("Two\nlines.", (3, 4), &["H"])];
    let chunks = chunk(&blocks, &spec(100, 10), &estimate_tokens);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].text, "One.\n\nTwo\nlines.");
    assert_eq!(chunks[0].lines, (1, 4));
    assert_eq!(chunks[0].headings, ["H"]);
}

#[test]
fn split_pieces_of_a_multiline_block_get_their_own_lines() {
    let text: String =
        (10..30).map(|n| format!("line{n} alpha beta gamma delta epsilon.")).collect::<Vec<_>>().join("\n");
    let blocks = vec![prose(&text, (10, 29), &[])];
    let chunks = chunk(&blocks, &spec(20, 0), &estimate_tokens);
    assert!(chunks.len() >= 5);
    for c in &chunks {
        let tags: Vec<u32> =
            c.text.split_whitespace().filter_map(|w| w.strip_prefix("line")).map(|n| n.parse().unwrap()).collect();
        assert_eq!(c.lines, (tags[0], *tags.last().unwrap()), "{:?}", c.text);
    }
}

#[test]
fn pieces_of_a_one_line_block_keep_that_line() {
    let blocks = vec![prose(&format!("{} {}", sentences(30, "S"), "z".repeat(5000)), (7, 7), &[])];
    let chunks = chunk(&blocks, &spec(30, 5), &estimate_tokens);
    assert!(chunks.len() > 10);
    assert!(chunks.iter().all(|c| c.lines == (7, 7)));
}

#[test]
fn code_is_split_only_between_lines_with_exact_line_ranges() {
    let src: String =
        (1..=40).map(|i| format!("    let value_{i} = compute({i}, {i});")).collect::<Vec<_>>().join("\n");
    let blocks = vec![code(&src, 100)];
    let chunks = chunk(&blocks, &spec(40, 14), &estimate_tokens);
    assert!(chunks.len() > 3);
    let source_lines: Vec<&str> = src.lines().collect();
    for c in &chunks {
        for line in c.text.lines() {
            assert!(source_lines.contains(&line), "{line:?} is not a whole source line");
        }
        let first = c.text.lines().next().unwrap();
        let last = c.text.lines().last().unwrap();
        let pos = |l: &str| 100 + u32::try_from(source_lines.iter().position(|s| *s == l).unwrap()).unwrap();
        assert_eq!(c.lines, (pos(first), pos(last)));
    }
    for pair in chunks.windows(2) {
        let first_next = pair[1].text.lines().next().unwrap();
        assert!(pair[0].text.lines().any(|l| l == first_next), "code overlap is whole lines");
    }
}

#[test]
fn blank_lines_inside_code_keep_line_numbers() {
    let src = "fn a() {\n    one();\n\n\n    two();\n}";
    let blocks = vec![code(src, 1)];
    let chunks = chunk(&blocks, &spec(6, 0), &estimate_tokens);
    let two = chunks.iter().find(|c| c.text.contains("two")).unwrap();
    assert_eq!(two.lines.0, 5, "{chunks:?}");
}

fn time_huge(text: String, label: &str) {
    let len = text.len();
    let blocks = vec![prose(&text, (1, 1), &["Huge"])];
    drop(text);
    let started = Instant::now();
    let chunks = chunk(&blocks, &spec(256, 32), &estimate_tokens);
    let took = started.elapsed();
    eprintln!("{label}: {len} bytes -> {} chunks in {took:?}", chunks.len());
    assert!(took < Duration::from_secs(10), "{label} took {took:?}");
    assert!(chunks.iter().all(|c| c.lines == (1, 1) && c.tokens <= 256));
    let total: usize = chunks.iter().map(|c| c.text.len()).sum();
    assert!(total >= len * 9 / 10, "text went missing: {total} of {len}");
}

/// 50 MB on one line, no sentence or word breaks at all: the worst case.
#[test]
fn a_50_mb_line_without_spaces_chunks_in_linear_time() {
    time_huge("abcdefghij".repeat(5_000_000), "50 MB without spaces");
}

/// 50 MB on one line of words but no sentence ends.
#[test]
fn a_50_mb_line_of_words_chunks_in_linear_time() {
    time_huge("lorem ipsum dolor sit amet consectetur ".repeat(1_300_000), "50 MB of words");
}

#[test]
fn multibyte_text_is_split_on_char_boundaries() {
    let text = "日本語".repeat(2000) + &"é".repeat(3000);
    let blocks = vec![prose(&text, (1, 1), &[])];
    let chunks = chunk(&blocks, &spec(32, 0), &estimate_tokens);
    assert_bounded(&chunks, 32, &estimate_tokens);
    let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(joined, text);
}

#[test]
fn degenerate_specs_terminate_and_keep_everything() {
    let blocks = vec![prose("a b c d e", (1, 1), &[])];
    let chunks = chunk(&blocks, &spec(0, 5), &estimate_tokens);
    let words: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(words, ["a", "b", "c", "d", "e"]);
    assert!(chunk(&[], &spec(10, 2), &estimate_tokens).is_empty());
    assert!(chunk(&[prose("  \n ", (1, 2), &[])], &spec(10, 2), &estimate_tokens).is_empty());
}

#[test]
fn estimate_tokens_follows_the_documented_rule() {
    let cases = [
        ("", 0),
        ("   \n\t", 0),
        ("hello world", 2),
        ("Hello, world!", 4),
        ("tokenize", 2),             // 8 chars: 1 + 1
        ("tokenization", 3),         // 12 chars: 1 + 2
        ("internationalization", 5), // 20 chars: 1 + 4
        ("x=1;", 4),
        ("snake_case_name", 5), // snake, _, case, _, name
        ("你好世界", 4),
        ("日本語のテキスト", 8),
        ("привет мир", 5), // non-Latin: 3 + 2
        ("naïve café", 2),
        ("e\u{301}t\u{e9}", 1), // a combining accent stays in the word
        ("🙂 ok", 2),
        ("https://example.com/a-b", 12),
    ];
    for (text, want) in cases {
        assert_eq!(estimate_tokens(text), want, "{text:?}");
    }
}
