//! Questions about data in plain language, for `analyze --ask` and for
//! `@analyze` in chat. The model sees each table's schema, statistics and
//! first rows and writes SQL; the SQL must be one read-only SELECT and runs
//! on DataFusion. A refusal or an error goes back to the model, up to
//! MAX_ITERATIONS_PROD tries. Nothing the model writes runs any other way.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use vuhitra_data::ask::TableBrief;
use vuhitra_data::datafusion::arrow::array::RecordBatch;
use vuhitra_data::datafusion::prelude::SessionContext;
use vuhitra_data::{DataError, LoadOptions, Loaded, Profile};
use vuhitra_llm::{ChatRequest, Message, Metrics, Options, Role};
use vuhitra_pipeline::{iterate, CancellationToken, Pipeline, PreparedPrompt, Step, Stop};

use super::data::{load_source, render, resolve, source_table_name};
use crate::app::App;
use crate::exit::{Interrupted, Status};
use crate::output::{self, outln};

/// One attempt: the SQL the model wrote, and why it did not work (when it
/// did not).
#[derive(serde::Serialize)]
pub struct Attempt {
    sql: Option<String>,
    error: Option<String>,
}

/// The SQL that ran, its rows and the model's explanation.
pub struct Answered {
    pub sql: String,
    pub rows: Vec<RecordBatch>,
    pub explanation: String,
}

pub struct DataAnswer {
    pub model: String,
    /// The tables the model was shown.
    pub tables: Vec<String>,
    pub answered: Option<Answered>,
    pub attempts: Vec<Attempt>,
    /// Summed over every model call.
    pub metrics: Metrics,
    pub elapsed_ms: f64,
    /// The heuristics record of the question, once recorded.
    pub record_id: Option<String>,
}

impl DataAnswer {
    fn failure(&self) -> Option<String> {
        self.answered.is_none().then(|| {
            format!("no working SQL after {} tries (MAX_ITERATIONS_PROD) with {}", self.attempts.len(), self.model)
        })
    }
}

/// Asks the model about the registered `tables` until its SQL runs or the
/// tries (MAX_ITERATIONS_PROD) run out, on the pipeline's one iteration
/// loop. Errors only when the model cannot be reached or `cancel` fires.
pub async fn ask(
    app: &App,
    ctx: &SessionContext,
    tables: &[(Loaded, Profile)],
    question: &str,
    model: Option<&str>,
    cancel: &CancellationToken,
) -> anyhow::Result<DataAnswer> {
    let started = Instant::now();
    let mut briefs = Vec::new();
    for (loaded, profile) in tables {
        let sample = ctx
            .sql(&format!("SELECT * FROM {} LIMIT 5", vuhitra_data::profile::quote(&loaded.table)))
            .await
            .map_err(|e| DataError::Query(e.to_string()))?
            .collect()
            .await
            .map_err(|e| DataError::Query(e.to_string()))?;
        briefs.push(TableBrief { name: &loaded.table, profile, sample_csv: render(&sample, "csv")? });
    }
    let model = model
        .map(str::to_string)
        .or_else(|| app.config.intent_models.get("data_analysis").and_then(|c| c.first().cloned()))
        .unwrap_or_else(|| app.config.model.clone());
    let client = app.ollama();
    let state = RefCell::new(Tries {
        messages: vec![
            Message::new(Role::System, vuhitra_data::ask::SYSTEM),
            Message::new(Role::User, vuhitra_data::ask::prompt(&briefs, question)),
        ],
        attempts: Vec::new(),
        metrics: Metrics::default(),
    });
    let options = Options { temperature: Some(0.0), ..Default::default() };
    let looped = iterate(app.config.max_iterations_prod, cancel, |_| {
        let (state, client, model, options) = (&state, &client, &model, &options);
        async move {
            let req = ChatRequest::new(model.clone(), state.borrow().messages.clone(), options.clone());
            let completion = client.chat(req, |_| {}).await?;
            sql_step(ctx, &mut state.borrow_mut(), completion).await
        }
    })
    .await;
    let tries = state.into_inner();
    let answered = match looped.stop {
        Stop::Done(a) => Some(a),
        Stop::Limit => None,
        Stop::Cancelled => return Err(question_cancelled()),
        Stop::Error(e) => return Err(e),
    };
    Ok(DataAnswer {
        model,
        tables: tables.iter().map(|(l, _)| l.table.clone()).collect(),
        answered,
        attempts: tries.attempts,
        metrics: tries.metrics,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        record_id: None,
    })
}

fn question_cancelled() -> anyhow::Error {
    Interrupted { what: "the question was cancelled".into(), hint: None }.into()
}

/// The conversation with the model so far, and what each try did.
struct Tries {
    messages: Vec<Message>,
    attempts: Vec<Attempt>,
    metrics: Metrics,
}

/// One try: take the SQL out of the model's answer, check it, run it; a
/// refusal or an error goes back to the model for the next try.
async fn sql_step(
    ctx: &SessionContext,
    tries: &mut Tries,
    completion: vuhitra_llm::Completion,
) -> anyhow::Result<Step<Answered>> {
    tries.metrics.add(&completion.metrics);
    tries.messages.push(Message::new(Role::Assistant, completion.content.clone()));
    let Some((sql, explanation)) = vuhitra_data::ask::extract_sql(&completion.content) else {
        tries.attempts.push(Attempt { sql: None, error: Some("the answer had no SQL".into()) });
        tries.messages.push(Message::new(Role::User, "That had no SQL. Answer with one SELECT in a ```sql block."));
        return Ok(Step::Again);
    };
    let outcome = match vuhitra_data::guard::read_only_select(&sql) {
        Err(refused) => Err(format!("refused: {refused}")),
        Ok(()) => match ctx.sql_with_options(&sql, vuhitra_data::guard::read_only_options()).await {
            Err(e) => Err(e.to_string()),
            Ok(df) => df.collect().await.map_err(|e| e.to_string()),
        },
    };
    match outcome {
        Ok(rows) => {
            tries.attempts.push(Attempt { sql: Some(sql.clone()), error: None });
            Ok(Step::Done(Answered { sql, rows, explanation }))
        }
        Err(error) => {
            tries.messages.push(Message::new(
                Role::User,
                format!("That query failed: {error}\nWrite a corrected SELECT in a ```sql block."),
            ));
            tries.attempts.push(Attempt { sql: Some(sql), error: Some(error) });
            Ok(Step::Again)
        }
    }
}

/// Loads `files` (paths or workspace file names) as tables named after
/// them, and asks about them: `@analyze` in chat.
pub async fn ask_about_files(
    app: &App,
    files: &[PathBuf],
    question: &str,
    model: Option<&str>,
    cancel: &CancellationToken,
) -> anyhow::Result<DataAnswer> {
    let ctx = SessionContext::new();
    let opts = LoadOptions { scratch: Some(app.config.data_dir.clone()), ..Default::default() };
    let mut tables: Vec<(Loaded, Profile)> = Vec::new();
    for file in files {
        let path = resolve(app, file)?;
        let stem = source_table_name(&path);
        // Two files with one stem (a/sales.csv, b/sales.csv): sales, sales_2.
        let mut name = stem.clone();
        let mut n = 1;
        while tables.iter().any(|(l, _)| l.table == name) {
            n += 1;
            name = format!("{stem}_{n}");
        }
        tables.push(load_source(app, &ctx, &path, &name, &opts, None).await?);
    }
    ask(app, &ctx, &tables, question, model, cancel).await
}

/// Records the question in the heuristics, as every interaction is; a
/// record that could not be kept is reported (a warning), not dropped.
pub async fn record_with(pipeline: &mut Pipeline, prompt: &PreparedPrompt, answer: &mut DataAnswer) {
    if let Err(e) = pipeline.ensure_intel(prompt).await {
        output::warn(&format!("the question was not recorded: {e}"));
        return;
    }
    answer.record_id =
        pipeline.record_answer(prompt, &answer.model, &answer.metrics, answer.failure(), answer.elapsed_ms).await;
}

/// `analyze --ask`: records the question as a prompt of its own, through
/// the process's one store (the frame cache may have opened it already).
pub async fn record(app: &App, question: &str, answer: &mut DataAnswer) {
    let mut pipeline = match app.pipeline() {
        Ok(p) => p,
        Err(e) => {
            output::warn(&format!("the question was not recorded: {e}"));
            return;
        }
    };
    let prompt = pipeline.prepare_plain(question);
    record_with(&mut pipeline, &prompt, answer).await;
}

/// `@analyze` in chat and the REPL: loads the files, asks, records the
/// question (its id goes to `last_record`, for /rate) and shows the answer.
pub async fn answer_in_chat(
    app: &App,
    pipeline: &mut Pipeline,
    prompt: &PreparedPrompt,
    files: &[PathBuf],
    model: Option<&str>,
    last_record: &mut Option<String>,
    cancel: &CancellationToken,
) -> anyhow::Result<Status> {
    let mut answer = tokio::select! {
        a = ask_about_files(app, files, &prompt.question, model, cancel) => a?,
        // Loading the files is covered too, not only the model's tries.
        _ = cancel.cancelled() => return Err(question_cancelled()),
    };
    record_with(pipeline, prompt, &mut answer).await;
    if answer.record_id.is_some() {
        last_record.clone_from(&answer.record_id);
    }
    print(app, &prompt.question, &answer)
}

/// Shows the SQL, the result table and the explanation; or every failed
/// try and a non-zero exit.
pub fn print(app: &App, question: &str, answer: &DataAnswer) -> anyhow::Result<Status> {
    let failure = answer.failure();
    if app.json {
        let mut out = serde_json::json!({
            "id": answer.record_id, "question": question, "model": answer.model, "tables": answer.tables,
            "attempts": answer.attempts,
        });
        match &answer.answered {
            Some(a) => {
                out["sql"] = a.sql.clone().into();
                out["rows"] = serde_json::from_str::<Value>(&render(&a.rows, "json")?)?;
                out["explanation"] = a.explanation.clone().into();
            }
            None => out["error"] = failure.clone().into(),
        }
        output::json(&out);
    } else if let Some(a) = &answer.answered {
        outln(&format!("SQL:\n  {}\n", a.sql));
        output::out(&render(&a.rows, "table")?);
        if !a.explanation.is_empty() {
            outln(&format!("\n{}", a.explanation));
        }
    } else {
        for (i, a) in answer.attempts.iter().enumerate() {
            eprintln!(
                "try {}: {}\n  {}",
                i + 1,
                a.sql.as_deref().unwrap_or("(no SQL)"),
                a.error.as_deref().unwrap_or_default()
            );
        }
        eprintln!("error: {}", failure.as_deref().unwrap_or_default());
    }
    // The tries and the failure were shown above.
    Ok(Status::failed_if(failure.is_some(), 1))
}
