//! Sentiment parity with the Python package vaderSentiment 3.3.2: every
//! score equals the reference values scripts/vader-vectors.py wrote with
//! the pinned package (scripts/services runs it).

use vuhitra_nlp::Analyzer;

#[test]
fn sentiment_matches_vadersentiment_3_3_2() {
    let path = vuhitra_testkit::need!(vuhitra_testkit::service(
        "VUHITRA_TEST_VADER_VECTORS",
        "the vaderSentiment reference scores"
    ));
    let text = std::fs::read_to_string(&path).unwrap();
    let analyzer = Analyzer::new();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "bad reference line: {line:?}");
        let want: Vec<f64> = cols[1..].iter().map(|v| v.parse().unwrap()).collect();
        let got = analyzer.sentiment(cols[0]);
        let got = [got.neg, got.neu, got.pos, got.compound];
        if want.iter().zip(&got).any(|(w, g)| (w - g).abs() > 1e-9) {
            mismatches.push(format!("{:?}: python {want:?}, vuhitra {got:?}", cols[0]));
        }
        checked += 1;
    }
    assert!(checked >= 300, "only {checked} reference sentences");
    assert!(mismatches.is_empty(), "{} of {checked} differ:\n{}", mismatches.len(), mismatches.join("\n"));
}
