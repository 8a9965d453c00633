//! `vuhitra analyze` and `vuhitra sql`.

use std::path::{Path, PathBuf};

use vuhitra_data::datafusion::arrow::array::RecordBatch;
use vuhitra_data::datafusion::execution::context::SQLOptions;
use vuhitra_data::datafusion::prelude::SessionContext;
use vuhitra_data::load::{register, table_name};
use vuhitra_data::profile::{format_number, sparkline, ColumnKind};
use vuhitra_data::{DataError, Format, LoadOptions, Loaded, Profile};
use vuhitra_sandbox::Workspace;
use vuhitra_store::now_ms;

use crate::app::App;
use crate::cli::{AnalyzeArgs, DataCommand, SqlArgs};
use crate::output::{self, outln, table};
use vuhitra_store::frames::{FrameCache, FrameInfo, DEFAULT_CHUNK};

fn no_frame(key: &str) -> anyhow::Error {
    crate::exit::usage(
        format!("no cached table named {key:?} (or it expired)"),
        Some("`vuhitra data list` shows them; `vuhitra analyze FILE --cache-key KEY` adds one"),
    )
}

/// Registers a cached table as `table`.
async fn register_cached(app: &App, ctx: &SessionContext, table: &str, key: &str) -> anyhow::Result<FrameInfo> {
    let frames = app.frames().await?;
    let (info, bytes) = frames.get_frame(key).await?.ok_or_else(|| no_frame(key))?;
    let batches = vuhitra_data::ipc::decode(&bytes)?;
    let provider = vuhitra_data::datafusion::datasource::MemTable::try_new(
        batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| std::sync::Arc::new(vuhitra_data::datafusion::arrow::datatypes::Schema::empty())),
        vec![batches],
    )?;
    ctx.register_table(table, std::sync::Arc::new(provider))?;
    Ok(info)
}

/// Keeps a registered table in the frame cache.
async fn cache_table(
    app: &App,
    ctx: &SessionContext,
    table: &str,
    key: &str,
    source: &str,
) -> anyhow::Result<FrameInfo> {
    let batches = ctx.table(table).await?.collect().await.map_err(|e| DataError::Query(e.to_string()))?;
    let bytes = vuhitra_data::ipc::encode(&batches)?;
    let now = now_ms();
    let info = FrameInfo {
        key: key.to_string(),
        rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        columns: batches
            .first()
            .map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect())
            .unwrap_or_default(),
        source: source.to_string(),
        bytes: bytes.len() as u64,
        chunks: vuhitra_store::frames::chunk_count(bytes.len(), DEFAULT_CHUNK),
        created_at: now,
        expires_at: now + app.config.frame_cache_ttl_secs as i64 * 1000,
    };
    let frames = app.frames().await?;
    frames.put_frame(&info, &bytes).await?;
    Ok(info)
}

/// `vuhitra data list|get|drop`.
pub async fn frames_command(app: &App, cmd: DataCommand) -> anyhow::Result<()> {
    let frames = app.frames().await?;
    match cmd {
        DataCommand::List => {
            let list = frames.frames().await?;
            if app.json {
                output::json(&serde_json::to_value(&list)?);
            } else if list.is_empty() {
                outln("no cached tables; `vuhitra analyze FILE --cache-key KEY` keeps one");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|f| {
                        vec![
                            f.key.clone(),
                            f.rows.to_string(),
                            f.columns.len().to_string(),
                            output::human_bytes(f.bytes),
                            vuhitra_store::format_ms(f.expires_at),
                            f.source.clone(),
                        ]
                    })
                    .collect();
                outln(&table(&["KEY", "ROWS", "COLUMNS", "SIZE", "EXPIRES", "SOURCE"], &rows));
            }
        }
        DataCommand::Get { key, format, limit } => {
            let (_, bytes) = frames.get_frame(&key).await?.ok_or_else(|| no_frame(&key))?;
            let batches = vuhitra_data::ipc::decode(&bytes)?;
            let mut kept = Vec::new();
            let mut left = limit;
            for b in batches {
                if left == 0 {
                    break;
                }
                let n = b.num_rows().min(left);
                kept.push(b.slice(0, n));
                left -= n;
            }
            let format = if app.json { "json".to_string() } else { format };
            output::out(&render(&kept, &format)?);
        }
        DataCommand::Drop { key } => {
            if !frames.drop_frame(&key).await? {
                return Err(no_frame(&key));
            }
            if app.json {
                output::json(&serde_json::json!({"key": key, "dropped": true}));
            } else {
                outln(&format!("dropped cached table {key}"));
            }
        }
    }
    Ok(())
}

/// A path, or the name of a registered workspace file.
pub fn resolve(app: &App, file: &Path) -> anyhow::Result<PathBuf> {
    if file.exists() || file.to_str().is_some_and(|f| f.starts_with("cache:")) {
        return Ok(file.to_path_buf());
    }
    let name = file.to_string_lossy();
    let store = app.store()?;
    if store.workspace_file(&name)?.is_some() {
        return Ok(Workspace::open(&app.config.workspace)?.path_of(&name));
    }
    Err(DataError::NotFound { path: file.to_path_buf() }.into())
}

pub async fn analyze(app: &App, args: AnalyzeArgs) -> anyhow::Result<crate::exit::Status> {
    let mut uploaded = None;
    let path = match (&args.file, &args.upload) {
        (_, Some(src)) => {
            let store = app.store()?;
            let ws = Workspace::open(&app.config.workspace)?;
            let now = now_ms();
            let expiry = super::files::Expiry::Default.at(app, now);
            let f = ws.upload(&store, src, None, app.config.max_uploaded_file_size, expiry, now)?;
            uploaded = Some(f.name.clone());
            ws.path_of(&f.name)
        }
        (Some(file), None) => resolve(app, file)?,
        (None, None) => unreachable!("clap requires FILE or --upload"),
    };
    let result = profile_file(app, &path, &args).await;
    if let (true, Some(name)) = (args.cleanup, &uploaded) {
        let store = app.store()?;
        Workspace::open(&app.config.workspace)?.remove(&store, name)?;
    }
    let (loaded, profile, ctx) = result?;
    if let Some(path) = &args.report {
        let generated = vuhitra_store::format_ms(now_ms());
        super::sessions::write_atomically(path, vuhitra_data::report::html(&loaded, &profile, &generated).as_bytes())?;
        if !app.json {
            eprintln!("report written to {}", path.display());
        }
    }
    if let Some(question) = &args.ask {
        let tables = [(loaded, profile)];
        let cancel = app.cancel_token(&tokio::runtime::Handle::current());
        let mut answer = super::ask::ask(app, &ctx, &tables, question, args.model.as_deref(), &cancel).await?;
        super::ask::record(app, question, &mut answer).await;
        return super::ask::print(app, question, &answer);
    }
    if app.json {
        output::json(
            &serde_json::json!({"source": loaded, "profile": profile, "cleaned_up": args.cleanup, "report": args.report}),
        );
    } else {
        print_profile(&loaded, &profile);
    }
    Ok(crate::exit::Status::Success)
}

async fn profile_file(app: &App, path: &Path, args: &AnalyzeArgs) -> anyhow::Result<(Loaded, Profile, SessionContext)> {
    let ctx = SessionContext::new();
    let opts = LoadOptions {
        format: args.format.as_deref().and_then(Format::parse),
        sheet: args.sheet.clone(),
        scratch: Some(app.config.data_dir.clone()),
    };
    let name = source_table_name(path);
    let (loaded, profile) = load_source(app, &ctx, path, &name, &opts, args.cache_key.as_deref()).await?;
    Ok((loaded, profile, ctx))
}

/// The key of a `cache:KEY` source, if it is one.
fn cache_key_of(path: &Path) -> Option<&str> {
    path.to_str().and_then(|p| p.strip_prefix("cache:"))
}

/// The table a source is called by: a cached frame's key, or the file's
/// stem (see `table_name`).
pub fn source_table_name(path: &Path) -> String {
    cache_key_of(path).map_or_else(|| table_name(path), str::to_string)
}

/// Registers one source (a file, or cache:KEY) as table `name`, reads a
/// small text file into memory (DATA_IN_MEMORY_MAX), keeps it in the frame
/// cache under `cache_key` if asked, and profiles it.
pub async fn load_source(
    app: &App,
    ctx: &SessionContext,
    path: &Path,
    name: &str,
    opts: &LoadOptions,
    cache_key: Option<&str>,
) -> anyhow::Result<(Loaded, Profile)> {
    let loaded = match cache_key_of(path) {
        Some(key) => {
            let info = register_cached(app, ctx, name, key).await?;
            Loaded {
                table: name.to_string(),
                path: PathBuf::from(format!("cache:{key}")),
                format: Format::Parquet,
                delimiter: None,
                header: None,
                encoding: "arrow",
                sheet: Some(format!("cached from {}", info.source)),
                in_memory: true,
                temp: None,
            }
        }
        None => open_file(app, ctx, path, name, opts).await?,
    };
    if let Some(key) = cache_key {
        let info = cache_table(app, ctx, name, key, &path.display().to_string()).await?;
        if !app.json {
            eprintln!(
                "cached as {key} ({} rows, {}) until {}",
                info.rows,
                output::human_bytes(info.bytes),
                vuhitra_store::format_ms(info.expires_at)
            );
        }
    }
    let profile = profile_loaded(app, ctx, &loaded).await?;
    Ok((loaded, profile))
}

/// Registers a file as table `name`, read into memory when it is a text
/// file up to DATA_IN_MEMORY_MAX.
pub async fn open_file(
    app: &App,
    ctx: &SessionContext,
    path: &Path,
    name: &str,
    opts: &LoadOptions,
) -> anyhow::Result<Loaded> {
    let mut loaded = register(ctx, name, path, opts).await?;
    if loaded.worth_reading_into_memory(app.config.data_in_memory_max) {
        loaded.read_into_memory(ctx).await?;
    }
    Ok(loaded)
}

/// The profile of a registered table. Exact distinct counts and quartiles
/// when the data is in memory, or is a Parquet file of at most EXACT_ROWS
/// rows (its row count is metadata); sketches only for what must stream.
pub async fn profile_loaded(app: &App, ctx: &SessionContext, loaded: &Loaded) -> anyhow::Result<Profile> {
    let name = &loaded.table;
    let exact = loaded.in_memory
        || (loaded.format == Format::Parquet
            && app.config.data_in_memory_max > 0
            && row_count(ctx, name).await.is_some_and(|n| n <= EXACT_ROWS));
    Ok(vuhitra_data::profile(ctx, name, exact).await.map_err(|e| match e {
        // A query over a file fails on content the sniffing did not see.
        DataError::Query(m) => loaded.read_error(m),
        other => other,
    })?)
}

/// A streamed Parquet file up to this many rows still gets exact distinct
/// counts and quartiles (its values per numeric column fit in memory).
const EXACT_ROWS: u64 = 2_000_000;

async fn row_count(ctx: &SessionContext, table: &str) -> Option<u64> {
    use vuhitra_data::datafusion::arrow::array::{Array, Int64Array};
    let df = ctx.sql(&format!("SELECT count(*) FROM {}", vuhitra_data::profile::quote(table))).await.ok()?;
    let batches = df.collect().await.ok()?;
    let col = batches.first()?.column(0).as_any().downcast_ref::<Int64Array>()?.clone();
    (!col.is_empty()).then(|| col.value(0) as u64)
}

fn fmt_num(v: Option<f64>) -> String {
    v.map_or("-".into(), format_number)
}

fn print_profile(l: &Loaded, p: &Profile) {
    outln(&format!(
        "{}: {} rows × {} columns ({:?}{})",
        l.path.display(),
        p.rows,
        p.columns.len(),
        l.format,
        l.how_read()
    ));
    outln("");
    let rows: Vec<Vec<String>> = p
        .columns
        .iter()
        .map(|c| {
            // Sketch estimates (data streamed past DATA_IN_MEMORY_MAX) are marked.
            let about = if c.approximate { "≈" } else { "" };
            let q = |i: usize| c.quartiles.map_or("-".into(), |q| format!("{about}{}", format_number(q[i])));
            vec![
                c.name.clone(),
                c.data_type.clone(),
                c.nulls.to_string(),
                c.distinct.map_or("-".into(), |d| format!("{about}{d}")),
                c.min.clone().map(|m| m.chars().take(24).collect()).unwrap_or_else(|| "-".into()),
                c.max.clone().map(|m| m.chars().take(24).collect()).unwrap_or_else(|| "-".into()),
                fmt_num(c.mean),
                fmt_num(c.std),
                q(0),
                q(1),
                q(2),
            ]
        })
        .collect();
    outln(&table(&["COLUMN", "TYPE", "NULLS", "DISTINCT", "MIN", "MAX", "MEAN", "STD", "P25", "P50", "P75"], &rows));
    let numeric: Vec<_> =
        p.columns.iter().filter(|c| c.kind == ColumnKind::Numeric && !c.histogram.is_empty()).collect();
    if !numeric.is_empty() {
        outln("\nhistograms (min → max):");
        for c in numeric {
            outln(&format!(
                "  {:<20} {} {}  [{} … {}]",
                c.name,
                sparkline(&c.histogram),
                "",
                c.min.as_deref().unwrap_or("-"),
                c.max.as_deref().unwrap_or("-")
            ));
        }
    }
    let texts: Vec<_> = p.columns.iter().filter(|c| !c.top_values.is_empty()).collect();
    if !texts.is_empty() {
        outln("\ntop values:");
        for c in texts {
            let tops: Vec<String> =
                c.top_values.iter().map(|(v, n)| format!("{} ({n})", v.chars().take(30).collect::<String>())).collect();
            outln(&format!("  {:<20} {}", c.name, tops.join(", ")));
        }
    }
    if !p.correlations.is_empty() {
        let mut cs = p.correlations.clone();
        cs.sort_by(|a, b| b.r.abs().total_cmp(&a.r.abs()));
        outln("\nstrongest correlations (Pearson r):");
        for c in cs.iter().take(10) {
            outln(&format!("  {:<20} {:<20} {:+.3}", c.a, c.b, c.r));
        }
    }
}

/// Registers the `--table` arguments, then any workspace file the query
/// names that is not registered yet.
async fn register_tables(app: &App, ctx: &SessionContext, sql: &str, tables: &[String]) -> anyhow::Result<Vec<Loaded>> {
    let opts = LoadOptions { scratch: Some(app.config.data_dir.clone()), ..Default::default() };
    let mut loaded = Vec::new();
    for t in tables {
        // cache:KEY, or NAME=cache:KEY: a table from the frame cache.
        let (name_part, value) = match t.split_once('=') {
            Some((n, v)) if !n.is_empty() => (Some(n), v),
            _ => (None, t.as_str()),
        };
        if let Some(key) = value.strip_prefix("cache:") {
            let name = name_part.map(str::to_string).unwrap_or_else(|| table_name(Path::new(key)));
            register_cached(app, ctx, &name, key).await?;
            continue;
        }
        let (name, path) = match t.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => (n.to_string(), resolve(app, Path::new(p))?),
            _ => {
                let path = resolve(app, Path::new(t))?;
                (table_name(&path), path)
            }
        };
        loaded.push(register(ctx, &name, &path, &opts).await?);
    }
    for (name, path) in mentioned_workspace_files(app, sql)? {
        if !loaded.iter().any(|l| l.table == name) {
            loaded.push(register(ctx, &name, &path, &opts).await?);
        }
    }
    Ok(loaded)
}

/// The workspace files whose table names (see `table_name`) appear as words
/// in `sql`, with their paths: what a query may use without naming a file.
pub fn mentioned_workspace_files(app: &App, sql: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let lower = sql.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    let ws = Workspace::open(&app.config.workspace)?;
    let mut found = Vec::new();
    for f in app.store()?.workspace_files()? {
        let table = table_name(Path::new(&f.name));
        if words.contains(&table.as_str()) {
            found.push((table, ws.path_of(&f.name)));
        }
    }
    Ok(found)
}

pub async fn sql(app: &App, args: SqlArgs) -> anyhow::Result<()> {
    let ctx = SessionContext::new();
    let tables = register_tables(app, &ctx, &args.query, &args.tables).await?;
    // Running a query fails on a bad row of a file: name the file and the row.
    let query_error = |e: vuhitra_data::datafusion::error::DataFusionError| {
        tables.iter().find_map(Loaded::ragged_row).unwrap_or(DataError::Query(e.to_string()))
    };
    let format = args
        .format
        .clone()
        .or_else(|| args.out.as_ref().and_then(|o| o.extension()).map(|e| e.to_string_lossy().to_ascii_lowercase()))
        .unwrap_or_else(|| if app.json { "json".into() } else { "table".into() });
    // Planning reads no rows: its errors are about the query. Read-only
    // unless --write: the engine refuses DDL, DML (COPY … TO) and statements.
    let options = if args.write { SQLOptions::new() } else { vuhitra_data::guard::read_only_options() };
    let df = ctx.sql_with_options(&args.query, options).await.map_err(|e| {
        let message = e.to_string();
        if !args.write && vuhitra_data::guard::refused_as_writing(&message) {
            return crate::exit::usage(
                format!("vuhitra sql is read-only: {}", message.trim_start_matches("Error during planning: ")),
                Some("add --write to run statements that create, change or write data or files"),
            );
        }
        DataError::Query(message).into()
    })?;
    if format == "parquet" {
        let Some(out) = &args.out else {
            return Err(crate::exit::usage("Parquet output needs --out PATH", None));
        };
        let tmp = out.with_extension("parquet.part");
        let written = df
            .write_parquet(
                &tmp.to_string_lossy(),
                vuhitra_data::datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(query_error(e).into());
        }
        std::fs::rename(&tmp, out)?;
        eprintln!("wrote {}", out.display());
        return Ok(());
    }
    let batches = df.collect().await.map_err(query_error)?;
    let text = render(&batches, &format)?;
    match &args.out {
        Some(out) => {
            super::sessions::write_atomically(out, text.as_bytes())?;
            eprintln!("wrote {}", out.display());
        }
        None => output::out(&text),
    }
    Ok(())
}

pub fn render(batches: &[RecordBatch], format: &str) -> anyhow::Result<String> {
    use vuhitra_data::datafusion::arrow;
    Ok(match format {
        "csv" => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
            }
            String::from_utf8(buf)?
        }
        "json" => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::json::ArrayWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            let mut s = String::from_utf8(buf)?;
            if s.is_empty() {
                s.push_str("[]");
            }
            s.push('\n');
            s
        }
        "table" => format!("{}\n", arrow::util::pretty::pretty_format_batches(batches)?),
        other => {
            return Err(crate::exit::usage(format!("unknown format {other}"), Some("csv, json, parquet or table")))
        }
    })
}
