//! `vuhitra rate [ID] 0-5 [--correction TEXT]`: feedback on an answer.

use vuhitra_store::{now_ms, HeuristicsStore, RecordFilter};

use crate::app::App;
use crate::cli::RateArgs;
use crate::output::{self, outln};
use vuhitra_pipeline::Intel;
use vuhitra_pipeline::Pipeline;

pub fn parse_rating(s: &str) -> anyhow::Result<u8> {
    match s.trim().parse::<u8>() {
        Ok(n) if n <= 5 => Ok(n),
        _ => Err(crate::exit::usage(format!("rating {s:?} is not a whole number from 0 to 5"), Some("5 is best"))),
    }
}

/// Stores a rating (and correction) on a record of the configured backend.
pub async fn apply(pipeline: &Pipeline, id: &str, rating: u8, correction: Option<&str>) -> anyhow::Result<()> {
    let intel = pipeline.intel.as_ref().ok_or_else(|| {
        crate::exit::usage("heuristics are off, so there is nothing to rate", Some("set ENABLE_HEURISTICS=true"))
    })?;
    rate(intel, id, rating, correction).await
}

async fn rate(intel: &Intel, id: &str, rating: u8, correction: Option<&str>) -> anyhow::Result<()> {
    intel.backend.rate(id, rating, correction, now_ms()).await?;
    Ok(())
}

pub async fn run(app: &App, args: RateArgs) -> anyhow::Result<()> {
    let (id, rating) = match args.args.as_slice() {
        [rating] => (None, rating),
        [id, rating] => (Some(id.clone()), rating),
        _ => unreachable!("clap takes one or two values"),
    };
    let rating = parse_rating(rating)?;
    let correction = args.correction.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let intel = app.intel().await?;
    let id = match id {
        Some(id) => intel.backend.record_by_id(&id).await?.id,
        None => {
            intel
                .backend
                .records(&RecordFilter { limit: Some(1), ..Default::default() })
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    crate::exit::usage("there is no answer to rate yet", Some("ask something with `vuhitra chat`"))
                })?
                .id
        }
    };
    rate(&intel, &id, rating, correction).await?;
    if app.json {
        output::json(&serde_json::json!({"id": id, "rating": rating, "correction": correction}));
    } else {
        outln(&format!("rated {id}: {rating}/5{}", if correction.is_some() { " with a correction" } else { "" }));
    }
    Ok(())
}
