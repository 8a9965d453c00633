//! `vuhitra mcp serve`: the workspace's data as read-only MCP tools.
//!
//! Read-only by construction: the tools only see files registered in the
//! sandbox workspace (by name, never by path), SQL passes the checked-SQL
//! guard (one SELECT, nothing inside it that writes) and then runs with
//! DataFusion's options that refuse DDL, DML and statements, and nothing
//! else is exposed. Stdout belongs to the protocol: nothing here prints.

use std::path::Path;

use serde_json::{json, Map, Value};
use vuhitra_data::datafusion::prelude::SessionContext;
use vuhitra_data::load::{register, table_name};
use vuhitra_data::LoadOptions;
use vuhitra_mcp::serve::{HostOutput, HostTool, Server, ToolHost};
use vuhitra_pipeline::CancellationToken;
use vuhitra_sandbox::Workspace;

use crate::app::App;

/// Rows a `sql` call returns unless it asks for fewer (or up to MAX_ROWS).
const DEFAULT_ROWS: u64 = 100;
const MAX_ROWS: u64 = 1000;

pub async fn serve(app: &App, cancel: &CancellationToken) -> anyhow::Result<()> {
    let host = DataTools { app: app.detached() };
    let server = Server::new(
        host,
        "Vuhitra's read-only data tools over the files in its sandbox workspace. \
         Call files_list first to see the files and the table name each one has in SQL.",
    );
    Ok(vuhitra_mcp::serve::serve_stdio(server, cancel).await?)
}

pub struct DataTools {
    app: App,
}

impl ToolHost for DataTools {
    fn tools(&self) -> Vec<HostTool> {
        vec![
            HostTool {
                name: "files_list",
                title: "List workspace files",
                description: "The data files in Vuhitra's sandbox workspace: name, SQL table name, detected type, size in bytes, SHA-256 and upload time.".into(),
                input_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
                output_schema: Some(json!({"type": "object", "properties": {"files": {"type": "array"}}, "required": ["files"]})),
            },
            HostTool {
                name: "sql",
                title: "Read-only SQL",
                description: format!(
                    "Run one read-only SELECT (DataFusion SQL) over the workspace files. Each file is a table named after its file name without the extension (sales-2024.csv is sales_2024; files_list gives the names). DDL, DML, COPY and other statements are refused. Returns at most max_rows rows (default {DEFAULT_ROWS}, at most {MAX_ROWS})."
                ),
                input_schema: json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "one SELECT statement"},
                        "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS, "description": "most rows to return"}
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }),
                output_schema: Some(json!({
                    "type": "object",
                    "properties": {"columns": {"type": "array"}, "rows": {"type": "array"}, "row_count": {"type": "integer"}, "truncated": {"type": "boolean"}},
                    "required": ["columns", "rows", "row_count", "truncated"]
                })),
            },
            HostTool {
                name: "analyze",
                title: "Profile a data file",
                description: "Profile one workspace file (CSV, TSV, JSON, NDJSON, Parquet, Excel): row count, and per column its type, nulls, distinct values, min, max, mean, standard deviation, quartiles and top values, plus correlations. Figures from sketches are marked approximate.".into(),
                input_schema: json!({
                    "type": "object",
                    "properties": {"file": {"type": "string", "description": "the file's name in the workspace (see files_list)"}},
                    "required": ["file"],
                    "additionalProperties": false
                }),
                output_schema: Some(json!({"type": "object", "properties": {"source": {"type": "object"}, "profile": {"type": "object"}}, "required": ["source", "profile"]})),
            },
        ]
    }

    async fn call(&self, name: &str, args: Map<String, Value>) -> HostOutput {
        let result = match name {
            "files_list" => self.files_list(),
            "sql" => self.sql(&args).await,
            "analyze" => self.analyze(&args).await,
            other => Err(anyhow::anyhow!("unknown tool {other}")),
        };
        result.unwrap_or_else(|e| HostOutput::error(format!("{e:#}")))
    }
}

impl DataTools {
    fn files_list(&self) -> anyhow::Result<HostOutput> {
        let files = self.app.store()?.workspace_files()?;
        let items: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({
                    "name": f.name,
                    "table": table_name(Path::new(&f.name)),
                    "type": f.kind,
                    "size": f.size,
                    "sha256": f.sha256,
                    "uploaded_at": vuhitra_store::format_ms(f.uploaded_at),
                })
            })
            .collect();
        let text = if files.is_empty() {
            "The workspace has no files (add some with `vuhitra upload FILE`).".to_string()
        } else {
            files
                .iter()
                .map(|f| format!("{} (table {}, {}, {} bytes)", f.name, table_name(Path::new(&f.name)), f.kind, f.size))
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(HostOutput::structured(json!({"files": items}), text))
    }

    /// The workspace file called `name`, and its path.
    fn workspace_file(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        let store = self.app.store()?;
        if store.workspace_file(name)?.is_none() {
            let names: Vec<String> = store.workspace_files()?.into_iter().map(|f| f.name).collect();
            anyhow::bail!(
                "no workspace file named \"{name}\" (the files: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            );
        }
        Ok(Workspace::open(&self.app.config.workspace)?.path_of(name))
    }

    async fn sql(&self, args: &Map<String, Value>) -> anyhow::Result<HostOutput> {
        let query = args["query"].as_str().unwrap_or_default();
        let max_rows = args.get("max_rows").and_then(Value::as_u64).unwrap_or(DEFAULT_ROWS).min(MAX_ROWS);
        if let Err(why) = vuhitra_data::guard::read_only_select(query) {
            return Ok(HostOutput::error(format!("refused: {why}. Only one read-only SELECT is allowed.")));
        }
        let ctx = SessionContext::new();
        let opts = LoadOptions { scratch: Some(self.app.config.data_dir.clone()), ..Default::default() };
        // Only the tables the query names are registered, each from the workspace.
        for (table, path) in super::data::mentioned_workspace_files(&self.app, query)? {
            register(&ctx, &table, &path, &opts).await?;
        }
        let df = ctx.sql_with_options(query, vuhitra_data::guard::read_only_options()).await?;
        let batches = df.limit(0, Some(max_rows as usize + 1))?.collect().await?;
        let table_text = super::data::render(&batches, "table")?;
        let rows: Vec<Value> = serde_json::from_str(&super::data::render(&batches, "json")?)?;
        let columns: Vec<String> =
            batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
        let truncated = rows.len() as u64 > max_rows;
        let rows: Vec<Value> = rows.into_iter().take(max_rows as usize).collect();
        let mut text = table_text;
        if truncated {
            text.push_str(&format!("(the first {max_rows} rows; ask for more with max_rows, or aggregate)\n"));
        }
        Ok(HostOutput::structured(
            json!({"columns": columns, "rows": rows, "row_count": rows.len(), "truncated": truncated}),
            text,
        ))
    }

    async fn analyze(&self, args: &Map<String, Value>) -> anyhow::Result<HostOutput> {
        let file = args["file"].as_str().unwrap_or_default();
        let path = self.workspace_file(file)?;
        let ctx = SessionContext::new();
        let opts = LoadOptions { scratch: Some(self.app.config.data_dir.clone()), ..Default::default() };
        let name = table_name(&path);
        let loaded = super::data::open_file(&self.app, &ctx, &path, &name, &opts).await?;
        let profile = super::data::profile_loaded(&self.app, &ctx, &loaded).await?;
        let mut text = format!("{file}: {} rows, {} columns\n", profile.rows, profile.columns.len());
        for c in &profile.columns {
            let distinct = c.distinct.map(|d| format!(", {d} distinct")).unwrap_or_default();
            text.push_str(&format!("- {} ({}, {} nulls{distinct})\n", c.name, c.data_type, c.nulls));
        }
        Ok(HostOutput::structured(json!({"source": loaded, "profile": profile}), text))
    }
}
