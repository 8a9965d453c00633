//! Incremental NDJSON decoding for Ollama's streamed responses.
//!
//! HTTP chunks do not respect line (or UTF-8) boundaries, so bytes are
//! buffered until a newline arrives and only whole lines are decoded.

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed line in the response stream: {line:?} ({reason})")]
pub struct NdjsonError {
    pub line: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    buf: Vec<u8>,
}

impl NdjsonDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every record completed by them, in order.
    pub fn push<T: DeserializeOwned>(&mut self, chunk: &[u8]) -> Vec<Result<T, NdjsonError>> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            if let Some(rec) = decode_line(&self.buf[start..end]) {
                out.push(rec);
            }
            start = end + 1;
        }
        self.buf.drain(..start);
        out
    }

    /// Call at end of stream: a last line without a newline is still a record.
    pub fn finish<T: DeserializeOwned>(&mut self) -> Option<Result<T, NdjsonError>> {
        let rest = std::mem::take(&mut self.buf);
        decode_line(&rest)
    }
}

fn decode_line<T: DeserializeOwned>(line: &[u8]) -> Option<Result<T, NdjsonError>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(serde_json::from_slice(line).map_err(|e| NdjsonError {
        line: String::from_utf8_lossy(line).chars().take(200).collect(),
        reason: e.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Rec {
        t: String,
    }

    const STREAM: &str = "{\"t\":\"héllo\"}\n{\"t\":\"wörld 🌍\"}\r\n\n{\"t\":\"end\"}";

    fn collect(chunks: &[&[u8]]) -> Vec<Result<Rec, NdjsonError>> {
        let mut d = NdjsonDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.push(c));
        }
        out.extend(d.finish());
        out
    }

    fn texts(recs: Vec<Result<Rec, NdjsonError>>) -> Vec<String> {
        recs.into_iter().map(|r| r.unwrap().t).collect()
    }

    #[test]
    fn whole_stream_in_one_chunk() {
        assert_eq!(texts(collect(&[STREAM.as_bytes()])), ["héllo", "wörld 🌍", "end"]);
    }

    #[test]
    fn split_at_every_byte_position() {
        let bytes = STREAM.as_bytes();
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(texts(collect(&[a, b])), ["héllo", "wörld 🌍", "end"], "split at {i}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let chunks: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
        assert_eq!(texts(collect(&chunks)), ["héllo", "wörld 🌍", "end"]);
    }

    #[test]
    fn malformed_line_is_an_error_and_the_stream_goes_on() {
        let out = collect(&[b"{\"t\":\"a\"}\n{not json\n{\"t\":\"b\"}\n"]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].as_ref().unwrap().t, "a");
        let err = out[1].as_ref().unwrap_err();
        assert_eq!(err.line, "{not json");
        assert_eq!(out[2].as_ref().unwrap().t, "b");
    }

    #[test]
    fn truncated_last_line_is_an_error() {
        let out = collect(&[b"{\"t\":\"a\"}\n{\"t\":\"b"]);
        assert!(out[0].is_ok());
        assert!(out[1].is_err());
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert!(collect(&[b"\n\r\n  \n"]).is_empty());
    }
}
