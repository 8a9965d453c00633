//! `vuhitra nlp` (alias `analyze-prompt`): the analysis every prompt gets.

use std::io::IsTerminal;

use vuhitra_core::context_files::read_context_stream;

use crate::app::App;
use crate::output::{self, outln, table};
use vuhitra_pipeline::Pipeline;

pub fn run(app: &App, words: &[String]) -> anyhow::Result<()> {
    let mut text = words.join(" ");
    if text.trim().is_empty() && !std::io::stdin().is_terminal() {
        text = read_context_stream(std::io::stdin().lock(), "stdin", app.config.max_context_file_size)?.text;
    }
    if text.trim().is_empty() {
        return Err(crate::exit::usage(
            "nothing to analyse",
            Some("pass the text: vuhitra nlp \"How do I sort a list?\""),
        ));
    }
    let nlp = Pipeline::new(&app.config, output::warn);
    let analysis = nlp.analyzer.analyze(&text);
    let signature = analysis.signature.get(nlp.mode);
    if app.json {
        let mut v = serde_json::to_value(&analysis)?;
        v["signature"]["mode"] = serde_json::json!(app.config.prompt_signature);
        v["signature"]["value"] = serde_json::json!(signature);
        output::json(&v);
        return Ok(());
    }
    let s = &analysis.sentiment;
    let entities: Vec<String> = analysis.entities.iter().map(|e| format!("{} {}", e.kind.as_str(), e.text)).collect();
    let or_dash = |v: Vec<String>, sep: &str| if v.is_empty() { "-".to_string() } else { v.join(sep) };
    let rows = vec![
        vec!["intent".into(), format!("{} ({:.2})", analysis.intent.kind.as_str(), analysis.intent.confidence)],
        vec![
            "sentiment".into(),
            format!("{} (compound {:.4}, pos {:.3}, neu {:.3}, neg {:.3})", s.label, s.compound, s.pos, s.neu, s.neg),
        ],
        vec!["entities".into(), or_dash(entities, " · ")],
        vec!["negations".into(), or_dash(analysis.negations.clone(), ", ")],
        vec!["key phrases".into(), or_dash(analysis.key_phrases.clone(), ", ")],
        vec!["terms".into(), or_dash(analysis.terms.clone(), " ")],
        vec!["tokens".into(), analysis.tokens.len().to_string()],
        vec!["signature".into(), format!("{signature} ({})", app.config.prompt_signature)],
    ];
    outln(&table(&["FIELD", "VALUE"], &rows));
    Ok(())
}
