//! CSV and TSV: one block per data row, written as `column: value` pairs so
//! that each row is understandable on its own once retrieved.
//!
//! [`DocKind::Csv`](crate::DocKind::Csv) does not say whether the file was
//! `.csv` or `.tsv`, so the delimiter is sniffed from the header line: the
//! most frequent of tab, comma and semicolon (comma on a tie).

use crate::{Block, LoadError};

fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut best = (b',', header.matches(',').count());
    for d in [b'\t', b';'] {
        let n = header.bytes().filter(|b| *b == d).count();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

pub(crate) fn load(text: &str) -> Result<Vec<Block>, LoadError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(text))
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| LoadError::Csv(e.to_string()))?;
        let Some(names) = &header else {
            header = Some(
                record
                    .iter()
                    .enumerate()
                    .map(|(i, name)| match name.trim() {
                        "" => format!("column {}", i + 1),
                        name => name.to_string(),
                    })
                    .collect(),
            );
            continue;
        };
        let first = record.position().map_or(1, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        // Quoted fields may hold line breaks; the row ends that many lines later.
        let breaks: usize = record.iter().map(|f| f.matches('\n').count()).sum();
        let last = first.saturating_add(u32::try_from(breaks).unwrap_or(u32::MAX));
        let pairs: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| {
                let name = names.get(i).cloned().unwrap_or_else(|| format!("column {}", i + 1));
                format!("{name}: {}", v.trim())
            })
            .collect();
        if pairs.is_empty() {
            continue;
        }
        out.push(Block { text: pairs.join("; "), lines: (first, last), headings: Vec::new(), code: false });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_pairs_with_empty_values_skipped() {
        let blocks = load("name,age,city\nAda,36,\nBob,,Paris\n").unwrap();
        let got: Vec<(&str, (u32, u32))> = blocks.iter().map(|b| (b.text.as_str(), b.lines)).collect();
        assert_eq!(got, vec![("name: Ada; age: 36", (2, 2)), ("name: Bob; city: Paris", (3, 3))]);
    }

    #[test]
    fn quoted_newline_spans_lines_and_next_row_line_is_right() {
        let blocks = load("id,note\n1,\"first\nsecond\nthird\"\n2,plain\n").unwrap();
        assert_eq!(blocks[0].text, "id: 1; note: first\nsecond\nthird");
        assert_eq!(blocks[0].lines, (2, 4));
        assert_eq!(blocks[1].text, "id: 2; note: plain");
        assert_eq!(blocks[1].lines, (5, 5));
    }

    #[test]
    fn tabs_are_sniffed_and_ragged_rows_are_kept() {
        let blocks = load("a\tb\n1\t2\t3\n4\n").unwrap();
        assert_eq!(blocks[0].text, "a: 1; b: 2; column 3: 3");
        assert_eq!(blocks[1].text, "a: 4");
    }

    #[test]
    fn header_only_file_has_no_rows() {
        assert!(load("a,b,c\n").unwrap().is_empty());
    }
}
