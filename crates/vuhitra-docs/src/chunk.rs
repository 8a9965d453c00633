//! Packing blocks into token-bounded chunks.
//!
//! Each block is cut into *units*: sentences (prose) or lines (code); a unit
//! still over budget is cut at line breaks, then words, then characters.
//! Units are byte ranges of the block's text, so chunk text is always a
//! verbatim slice of the source text (several blocks joined by a blank
//! line), and the line of any unit follows from the newlines before it.
//!
//! Every unit is counted once and chunks are filled by adding up unit
//! counts, which keeps the work linear in the input. The caller's counter
//! need not be additive, so each finished chunk is counted once more and
//! shrunk if the sum was optimistic.

use std::collections::VecDeque;

use crate::Block;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpec {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub lines: (u32, u32),
    pub headings: Vec<String>,
    pub tokens: usize,
}

/// An estimate of the token count of BERT-style WordPiece tokenizers
/// (all-MiniLM, nomic-embed, ...), used because Ollama exposes no tokenizer.
///
/// The rule, tuned to err slightly high:
/// - whitespace separates words and costs nothing;
/// - every punctuation or symbol character is one token;
/// - every CJK ideograph, kana or hangul syllable is one token;
/// - a word (run of letters, digits and combining marks) of up to 6 chars is
///   one token, plus one per started 4 chars beyond the first 6
///   ("tokenization", 12 chars, is 3; WordPiece gives 2);
/// - a word containing letters outside the Latin script costs one token per
///   2 chars, as English vocabularies hold few pieces for other scripts.
pub fn estimate_tokens(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut tokens = 0usize;
    let mut word_len = 0usize;
    let mut foreign = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // A table, not `is_ascii_*` calls: this loop sees every byte of the
        // corpus several times, and debug builds do not inline.
        let class = BYTE_CLASS[usize::from(b)];
        if class == WORD {
            word_len += 1;
            i += 1;
            continue;
        }
        if class != OTHER {
            i += 1;
            tokens += word_tokens(word_len, foreign) + usize::from(class == PUNCT);
            word_len = 0;
            foreign = false;
            continue;
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        i += c.len_utf8();
        if is_combining(c) {
            // Part of the word before it: "é" written as e + U+0301.
            continue;
        }
        if c.is_alphanumeric() && !is_cjk(c) {
            word_len += 1;
            foreign |= c > '\u{24f}';
            continue;
        }
        tokens += word_tokens(word_len, foreign);
        word_len = 0;
        foreign = false;
        if !c.is_whitespace() && !c.is_control() && c != '\u{feff}' && c != '\u{200b}' {
            tokens += 1;
        }
    }
    tokens + word_tokens(word_len, foreign)
}

const SPACE: u8 = 0;
const WORD: u8 = 1;
const PUNCT: u8 = 2;
/// Bytes >= 0x80: decode the character.
const OTHER: u8 = 3;

static BYTE_CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphanumeric() {
            WORD
        } else if c.is_ascii_whitespace() || c.is_ascii_control() {
            SPACE
        } else {
            PUNCT
        };
        b += 1;
    }
    table
};

/// See [`Splitter::measure`].
const HOPELESS_BYTES_PER_TOKEN: usize = 64;

fn word_tokens(len: usize, foreign: bool) -> usize {
    match len {
        0 => 0,
        _ if foreign => len.div_ceil(2),
        1..=6 => 1,
        _ => 1 + (len - 6).div_ceil(4),
    }
}

fn is_combining(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36f}' | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}')
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}'     // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}'   // CJK extension A
        | '\u{4e00}'..='\u{9fff}'   // CJK unified ideographs
        | '\u{ac00}'..='\u{d7af}'   // hangul syllables
        | '\u{f900}'..='\u{faff}'   // CJK compatibility ideographs
        | '\u{20000}'..='\u{2fa1f}' // CJK extensions B.. and supplement
    )
}

/// A byte range of one block's text that goes into a chunk.
#[derive(Debug, Clone, Copy)]
struct Seg {
    block: usize,
    start: usize,
    end: usize,
    tokens: usize,
    first_line: u32,
    last_line: u32,
    /// Set on a block's first unit: the whole block's token count, so the
    /// packer can move a block that fits a chunk of its own to a new chunk
    /// instead of cutting it.
    block_tokens: Option<usize>,
}

/// Maps byte offsets of a block's text to source lines.
struct LineMap {
    first: u32,
    last: u32,
    len: usize,
    /// Whether the text has exactly one newline per source line break, so
    /// lines can be counted; otherwise (collapsed HTML, CSV rows) they are
    /// interpolated by position.
    exact: bool,
}

impl LineMap {
    fn new(block: &Block) -> LineMap {
        let (first, last) = (block.lines.0, block.lines.1.max(block.lines.0));
        let newlines = count_newlines(block.text.as_bytes());
        LineMap {
            first,
            last,
            len: block.text.len(),
            exact: u64::try_from(newlines).ok() == Some(u64::from(last - first)),
        }
    }

    /// Line of `offset`, given that `base_offset` (<= offset) is on `base_line`.
    fn line(&self, text: &str, base_offset: usize, base_line: u32, offset: usize) -> u32 {
        if self.exact {
            let n = count_newlines(&text.as_bytes()[base_offset..offset]);
            return base_line.saturating_add(u32::try_from(n).unwrap_or(u32::MAX)).min(self.last);
        }
        // The last byte maps to the last line, so a whole block keeps its range.
        let denominator = self.len.saturating_sub(1).max(1) as u128;
        let span = u128::from(self.last - self.first);
        let step = span * offset.min(self.len) as u128 / denominator;
        self.first.saturating_add(u32::try_from(step).unwrap_or(u32::MAX)).min(self.last)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Sentence,
    Line,
    Word,
}

/// Cuts one block into units of at most `max` tokens.
struct Splitter<'a> {
    text: &'a str,
    count: &'a dyn Fn(&str) -> usize,
    max: usize,
    /// Size that words and characters are grouped to: small enough that
    /// overlap can be taken from them, large enough to keep the unit count
    /// (and memory) of a huge unbroken paragraph low.
    group: usize,
    out: Vec<(usize, usize, usize)>,
}

impl Splitter<'_> {
    /// Token count of `text[from..to]`, or None for a range so long that no
    /// sane counter could fit it in `max` (more than 64 bytes per token):
    /// counting a 50 MB line only to learn that it must be cut is a whole
    /// extra pass, and the cut pieces are counted anyway.
    fn measure(&self, from: usize, to: usize, known: Option<usize>) -> Option<usize> {
        if known.is_some() {
            return known;
        }
        if to - from > self.max.saturating_mul(HOPELESS_BYTES_PER_TOKEN) {
            return None;
        }
        Some((self.count)(&self.text[from..to]))
    }

    fn split(&mut self, start: usize, end: usize, level: Level, known: Option<usize>) {
        match level {
            Level::Sentence | Level::Line => {
                let bounds = if level == Level::Sentence {
                    sentence_ends(self.text, start, end)
                } else {
                    line_ends(self.text, start, end)
                };
                let next = if level == Level::Sentence { Level::Line } else { Level::Word };
                let mut from = start;
                for to in bounds.into_iter().chain(std::iter::once(end)) {
                    if to <= from {
                        continue;
                    }
                    let whole = from == start && to == end;
                    match self.measure(from, to, known.filter(|_| whole)) {
                        Some(tokens) if tokens <= self.max => self.out.push((from, to, tokens)),
                        tokens => self.split(from, to, next, tokens),
                    }
                    from = to;
                }
            }
            Level::Word => self.words(start, end, known),
        }
    }

    fn words(&mut self, start: usize, end: usize, known: Option<usize>) {
        let bytes = self.text.as_bytes();
        let mut group: Option<(usize, usize)> = None; // (start, tokens)
        let mut from = start;
        while from < end {
            // A word with the whitespace after it.
            let mut to = from;
            while to < end && BYTE_CLASS[usize::from(bytes[to])] != SPACE {
                to += 1;
            }
            while to < end && BYTE_CLASS[usize::from(bytes[to])] == SPACE {
                to += 1;
            }
            let whole = from == start && to == end;
            let measured = self.measure(from, to, known.filter(|_| whole));
            let Some(tokens) = measured.filter(|t| *t <= self.max) else {
                if let Some((g, t)) = group.take() {
                    self.out.push((g, from, t));
                }
                self.chars(from, to, measured);
                from = to;
                continue;
            };
            match group {
                Some((g, t)) if t + tokens > self.group => {
                    self.out.push((g, from, t));
                    group = Some((from, tokens));
                }
                Some((g, t)) => group = Some((g, t + tokens)),
                None => group = Some((from, tokens)),
            }
            from = to;
        }
        if let Some((g, t)) = group {
            self.out.push((g, end, t));
        }
    }

    /// Cuts at character boundaries. The length of each piece is guessed from
    /// the bytes per token seen so far and shrunk until it fits, so the cost
    /// stays proportional to the text rather than to text × pieces.
    fn chars(&mut self, start: usize, end: usize, known: Option<usize>) {
        // Without a count, start from English's ~4 bytes per token and adapt.
        let mut bytes_per_token = known.map_or(4, |total| ((end - start) / total.max(1)).max(1));
        let mut from = start;
        while from < end {
            let min = from + self.text[from..].chars().next().map_or(1, char::len_utf8);
            let mut to = floor_boundary(self.text, (from + bytes_per_token * self.group).min(end)).max(min);
            let mut tokens = (self.count)(&self.text[from..to]);
            while tokens > self.group && to > min {
                let shrunk = from + (to - from) * self.group / tokens * 9 / 10;
                to = floor_boundary(self.text, shrunk).max(min).min(to - 1);
                to = floor_boundary(self.text, to).max(min);
                tokens = (self.count)(&self.text[from..to]);
            }
            bytes_per_token = ((to - from) / tokens.max(1)).max(1);
            self.out.push((from, to, tokens));
            from = to;
        }
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Offsets just after each line break in `text[start..end]`.
fn line_ends(text: &str, start: usize, end: usize) -> Vec<usize> {
    memchr::memchr_iter(b'\n', &text.as_bytes()[start..end]).map(|i| start + i + 1).collect()
}

fn count_newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Offsets where a sentence ends: after `.`, `!` or `?` (and closing quotes
/// or brackets) followed by whitespace, which is included, and after the
/// CJK full stops. Abbreviations ("e.g. this") also end a "sentence": that
/// only makes a unit smaller, never loses text.
fn sentence_ends(text: &str, start: usize, end: usize) -> Vec<usize> {
    let bytes = &text.as_bytes()[..end];
    let mut ends = Vec::new();
    let push = |mut j: usize, ends: &mut Vec<usize>| {
        while j < end && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < end && ends.last().is_none_or(|last| *last < j) {
            ends.push(j);
        }
    };
    // The CJK stops (。！？) all start with 0xE3 or 0xEF; scanning for those
    // bytes in a second pass keeps the ASCII scan a fast memchr.
    for i in memchr::memchr3_iter(b'.', b'!', b'?', &bytes[start..]).map(|i| start + i) {
        let mut j = i + 1;
        while j < end && matches!(bytes[j], b'"' | b'\'' | b')' | b']' | b'*' | b'_') {
            j += 1;
        }
        if j < end && bytes[j].is_ascii_whitespace() {
            push(j, &mut ends);
        }
    }
    let mut cjk = Vec::new();
    for i in memchr::memchr2_iter(0xE3, 0xEF, &bytes[start..]).map(|i| start + i) {
        let tail = &bytes[i..end.min(i + 3)];
        if tail == "。".as_bytes() || tail == "！".as_bytes() || tail == "？".as_bytes() {
            push(i + 3, &mut cjk);
        }
    }
    if !cjk.is_empty() {
        ends.extend(cjk);
        ends.sort_unstable();
        ends.dedup();
    }
    ends
}

/// Cuts a block into units with their line numbers.
fn units(block_index: usize, block: &Block, map: &LineMap, max: usize, count: &dyn Fn(&str) -> usize) -> Vec<Seg> {
    let text = block.text.as_str();
    let mut splitter = Splitter { text, count, max, group: (max / 8).max(1), out: Vec::new() };
    let level = if block.code { Level::Line } else { Level::Sentence };
    splitter.split(0, text.len(), level, None);

    // Whitespace-only pieces (blank lines in code) join the unit before them
    // so units stay contiguous.
    let mut merged: Vec<(usize, usize, usize)> = Vec::with_capacity(splitter.out.len());
    let mut lead: Option<usize> = None;
    for (s, e, t) in splitter.out {
        if text[s..e].trim().is_empty() {
            match merged.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => {
                    lead.get_or_insert(s);
                }
            }
            continue;
        }
        merged.push((lead.take().unwrap_or(s), e, t));
    }

    let (mut cursor, mut cursor_line) = (0usize, map.first);
    let mut segs = Vec::with_capacity(merged.len());
    let block_tokens: usize = merged.iter().map(|u| u.2).sum();
    for (i, (s, e, t)) in merged.into_iter().enumerate() {
        let piece = &text[s..e];
        let content_start = s + (piece.len() - piece.trim_start().len());
        let content_end = s + piece.trim_end().len();
        let first_line = map.line(text, cursor, cursor_line, content_start);
        let last_line = map.line(text, content_start, first_line, content_end.saturating_sub(1).max(content_start));
        (cursor, cursor_line) = (content_start, first_line);
        segs.push(Seg {
            block: block_index,
            start: s,
            end: e,
            tokens: t,
            first_line,
            last_line,
            block_tokens: (i == 0).then_some(block_tokens),
        });
    }
    segs
}

/// Packs blocks into chunks of at most spec.max_tokens tokens (as counted by
/// `count`), never mixing blocks of different heading paths in one chunk.
///
/// Consecutive chunks of the same section share up to
/// `min(overlap_tokens, max_tokens / 2)` tokens of trailing context, taken
/// as whole units (sentences, lines) where one fits and as trailing words of
/// a prose unit otherwise. A block that fits a chunk of its own is not cut
/// across chunks. Blocks larger than max_tokens are split at sentence, line,
/// word and finally UTF-8 character boundaries; nothing is dropped, and a
/// chunk exceeds max_tokens only when a single character does. Chunk line
/// ranges cover the pieces they hold.
pub fn chunk(blocks: &[Block], spec: &ChunkSpec, count: &dyn Fn(&str) -> usize) -> Vec<Chunk> {
    let max = spec.max_tokens.max(1);
    let mut packer = Packer {
        blocks,
        maps: blocks.iter().map(LineMap::new).collect(),
        count,
        max,
        overlap: spec.overlap_tokens.min(max / 2),
        out: Vec::new(),
    };
    let mut section_start = 0;
    for i in 1..=blocks.len() {
        if i == blocks.len() || blocks[i].headings != blocks[section_start].headings {
            packer.section(section_start..i);
            section_start = i;
        }
    }
    packer.out
}

struct Packer<'a> {
    blocks: &'a [Block],
    maps: Vec<LineMap>,
    count: &'a dyn Fn(&str) -> usize,
    max: usize,
    overlap: usize,
    out: Vec<Chunk>,
}

/// The chunk being filled: its leading `overlap` segments repeat the end of
/// the previous chunk.
#[derive(Default)]
struct Current {
    segs: Vec<Seg>,
    overlap: usize,
    tokens: usize,
}

impl Current {
    fn has_new(&self) -> bool {
        self.segs.len() > self.overlap
    }

    fn drop_front_overlap(&mut self) -> bool {
        if self.overlap == 0 {
            return false;
        }
        let seg = self.segs.remove(0);
        self.tokens -= seg.tokens;
        self.overlap -= 1;
        true
    }
}

impl Packer<'_> {
    fn section(&mut self, range: std::ops::Range<usize>) {
        let mut cur = Current::default();
        let mut pending: VecDeque<Seg> = VecDeque::new();
        for b in range {
            if self.blocks[b].text.trim().is_empty() {
                continue;
            }
            pending.extend(units(b, &self.blocks[b], &self.maps[b], self.max, self.count));
            self.drain(&mut cur, &mut pending);
        }
        while cur.has_new() {
            self.flush(&mut cur, &mut pending);
            // Segments that a non-additive counter pushed back.
            self.drain(&mut cur, &mut pending);
        }
    }

    fn drain(&mut self, cur: &mut Current, pending: &mut VecDeque<Seg>) {
        while let Some(unit) = pending.pop_front() {
            // A block that fits a chunk of its own starts a new chunk rather
            // than being cut across two.
            let whole_block = unit.block_tokens.filter(|t| *t <= self.max);
            let moves_block = whole_block.is_some_and(|t| cur.tokens + t > self.max);
            if cur.has_new() && (moves_block || cur.tokens + unit.tokens > self.max) {
                pending.push_front(unit);
                self.flush(cur, pending);
                continue;
            }
            let need = whole_block.unwrap_or(unit.tokens).max(unit.tokens);
            while cur.tokens + need > self.max && cur.drop_front_overlap() {}
            cur.tokens += unit.tokens;
            cur.segs.push(unit);
        }
    }

    fn text_of(&self, segs: &[Seg]) -> String {
        let mut text = String::new();
        let mut i = 0;
        while i < segs.len() {
            let first = segs[i];
            let mut last = first;
            i += 1;
            while i < segs.len() && segs[i].block == last.block && segs[i].start == last.end {
                last = segs[i];
                i += 1;
            }
            let piece = self.blocks[first.block].text[first.start..last.end].trim_end();
            // Keep a code line's indentation, but not a leading line break.
            let piece = piece.trim_start_matches(['\n', '\r']);
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(piece);
        }
        text
    }

    /// Emits the current chunk and starts the next one with its overlap.
    /// Segments that made the chunk too large by the caller's count go back
    /// to the front of `pending`.
    fn flush(&mut self, cur: &mut Current, pending: &mut VecDeque<Seg>) {
        let (text, tokens) = loop {
            let text = self.text_of(&cur.segs);
            let tokens = (self.count)(&text);
            if tokens <= self.max || cur.segs.len() == 1 {
                break (text, tokens);
            }
            if cur.segs.len() - cur.overlap > 1 {
                let back = cur.segs.pop().expect("more than one segment");
                cur.tokens -= back.tokens;
                pending.push_front(back);
            } else {
                cur.drop_front_overlap();
            }
        };
        let (first, last) = (cur.segs[0], cur.segs[cur.segs.len() - 1]);
        self.out.push(Chunk {
            text,
            lines: (first.first_line, last.last_line.max(first.first_line)),
            headings: self.blocks[first.block].headings.clone(),
            tokens,
        });
        let tail = self.overlap_tail(&cur.segs);
        *cur = Current { tokens: tail.iter().map(|s| s.tokens).sum(), overlap: tail.len(), segs: tail };
    }

    /// The trailing segments worth at most `self.overlap` tokens.
    fn overlap_tail(&self, segs: &[Seg]) -> Vec<Seg> {
        if self.overlap == 0 {
            return Vec::new();
        }
        let mut taken = 0;
        let mut start = segs.len();
        while start > 0 && taken + segs[start - 1].tokens <= self.overlap {
            start -= 1;
            taken += segs[start].tokens;
        }
        if start < segs.len() {
            return segs[start..].to_vec();
        }
        // No whole unit fits: take the last words of a prose unit.
        let last = segs[segs.len() - 1];
        let block = &self.blocks[last.block];
        if block.code {
            return Vec::new();
        }
        self.word_tail(block, &self.maps[last.block], last).into_iter().collect()
    }

    fn word_tail(&self, block: &Block, map: &LineMap, seg: Seg) -> Option<Seg> {
        let text = &block.text;
        let bytes = text.as_bytes();
        let end = seg.start + text[seg.start..seg.end].trim_end().len();
        let mut start = end;
        let mut tokens = 0;
        loop {
            // Step back over one word and the whitespace before it.
            let mut i = start;
            while i > seg.start && bytes[i - 1].is_ascii_whitespace() {
                i -= 1;
            }
            while i > seg.start && !bytes[i - 1].is_ascii_whitespace() {
                i -= 1;
            }
            if i == start || i == seg.start {
                break;
            }
            let t = (self.count)(&text[i..start]);
            if tokens + t > self.overlap {
                break;
            }
            tokens += t;
            start = i;
        }
        if start == end {
            return None;
        }
        let content = seg.start + (text[seg.start..seg.end].len() - text[seg.start..seg.end].trim_start().len());
        let first_line = map.line(text, content, seg.first_line, start.max(content));
        Some(Seg { start, tokens, first_line, block_tokens: None, ..seg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentence_ends_include_following_whitespace_and_skip_decimals() {
        let t = "Pi is 3.14 today. Yes! \"Quoted.\" End";
        let ends = sentence_ends(t, 0, t.len());
        let pieces: Vec<&str> = std::iter::once(0)
            .chain(ends.iter().copied())
            .zip(ends.iter().copied().chain(std::iter::once(t.len())))
            .map(|(a, b)| &t[a..b])
            .collect();
        assert_eq!(pieces, ["Pi is 3.14 today. ", "Yes! ", "\"Quoted.\" ", "End"]);
    }

    #[test]
    fn cjk_full_stop_ends_a_sentence() {
        let t = "你好。世界";
        assert_eq!(sentence_ends(t, 0, t.len()), vec![9]);
    }

    #[test]
    fn interpolated_line_map_stays_in_range() {
        let block = Block { text: "a b c d e f g h".into(), lines: (10, 13), headings: vec![], code: false };
        let map = LineMap::new(&block);
        assert!(!map.exact);
        assert_eq!(map.line(&block.text, 0, 10, 0), 10);
        assert_eq!(map.line(&block.text, 0, 10, block.text.len() - 1), 13);
        let middle = map.line(&block.text, 0, 10, block.text.len() / 2);
        assert!((11..=12).contains(&middle), "{middle}");
    }
}
