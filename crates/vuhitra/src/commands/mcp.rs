//! `vuhitra mcp`: the servers file, the client commands, and `mcp serve`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use vuhitra_mcp::{config, ClientSettings, Connection, McpConfig, McpError, ServerEntry, Toolbox};
use vuhitra_pipeline::CancellationToken;

use crate::app::App;
use crate::cli::{McpArgs, McpCommand};
use crate::exit::Status;
use crate::output::{self, outln};

/// The servers file: the flag, else MCP_CONFIG, else DATA_DIR/mcp.json.
pub fn config_path(app: &App, flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf).unwrap_or_else(|| app.config.mcp.config.clone())
}

pub fn settings(app: &App) -> ClientSettings {
    ClientSettings { timeout: Duration::from_secs(app.config.mcp.timeout_secs), ..Default::default() }
}

/// A configured server by name, or an address used as it is (`http://…`),
/// so a server can be tried before it is added.
fn server<'c>(config: &'c McpConfig, name: &str) -> Result<(String, std::borrow::Cow<'c, ServerEntry>), McpError> {
    if name.starts_with("http://") || name.starts_with("https://") {
        let entry = ServerEntry { url: Some(name.to_string()), ..Default::default() };
        return Ok(("remote".to_string(), std::borrow::Cow::Owned(entry)));
    }
    Ok((name.to_string(), std::borrow::Cow::Borrowed(config.get(name)?)))
}

pub async fn run(app: &App, args: McpArgs, cancel: &CancellationToken) -> anyhow::Result<Status> {
    let path = config_path(app, args.mcp_config.as_deref());
    let mut config = McpConfig::load(&path)?;
    let settings = settings(app);
    match args.command {
        McpCommand::List { no_start } => list(app, &config, &path, no_start, &settings, cancel).await,
        McpCommand::Add { name, command, url, headers, env, cwd, allow, disabled, force } => {
            config::check_name(&name).map_err(|m| crate::exit::usage(m, None))?;
            if config.servers.contains_key(&name) && !force {
                return Err(crate::exit::usage(
                    format!("a server named \"{name}\" is already in {}", path.display()),
                    Some("pass --force to replace it, or pick another name"),
                ));
            }
            let entry = new_entry(command, url, headers, env, cwd, allow, disabled)?;
            entry.transport(&name)?;
            config.servers.insert(name.clone(), entry);
            config.save(&path)?;
            if app.json {
                output::json(&json!({"added": name, "config": path, "entry": config.servers[&name]}));
            } else {
                eprintln!("added {name} to {}; check it with: vuhitra mcp tools {name}", path.display());
            }
            Ok(Status::Success)
        }
        McpCommand::Rm { name } => {
            config.get(&name)?;
            config.servers.remove(&name);
            config.save(&path)?;
            if app.json {
                output::json(&json!({"removed": name, "config": path}));
            } else {
                eprintln!("removed {name} from {}", path.display());
            }
            Ok(Status::Success)
        }
        McpCommand::Enable { name } => switch(app, &mut config, &path, &name, true),
        McpCommand::Disable { name } => switch(app, &mut config, &path, &name, false),
        McpCommand::Tools { server } => tools(app, &config, server.as_deref(), &settings, cancel).await,
        McpCommand::Call { server, tool, args } => call(app, &config, &server, &tool, args, &settings, cancel).await,
        McpCommand::Resources { server } => {
            let conn = connect(&config, &server, &settings, cancel).await?;
            let listed = conn.resources(cancel).await;
            conn.close().await;
            let resources = listed?;
            if app.json {
                output::json(&Value::Array(resources));
            } else if resources.is_empty() {
                eprintln!("{server} has no resources");
            } else {
                let rows: Vec<Vec<String>> = resources
                    .iter()
                    .map(|r| {
                        vec![
                            text(&r["uri"]),
                            text(&r["name"]),
                            text(&r["mimeType"]),
                            output::one_line(&text(&r["description"]), 60),
                        ]
                    })
                    .collect();
                outln(&output::table(&["URI", "NAME", "TYPE", "DESCRIPTION"], &rows));
            }
            Ok(Status::Success)
        }
        McpCommand::Read { server, uri } => {
            let conn = connect(&config, &server, &settings, cancel).await?;
            let read = conn.read(&uri, cancel).await;
            conn.close().await;
            let contents = read?;
            if app.json {
                output::json(&json!({"uri": uri, "contents": contents}));
                return Ok(Status::Success);
            }
            for c in &contents {
                match (c["text"].as_str(), c["blob"].as_str()) {
                    (Some(t), _) => {
                        output::out(t);
                        if !t.ends_with('\n') {
                            outln("");
                        }
                    }
                    (None, Some(b)) => eprintln!(
                        "{}: binary content ({}, about {} bytes); use --json for its base64",
                        text(&c["uri"]),
                        text(&c["mimeType"]),
                        b.len() * 3 / 4
                    ),
                    _ => outln(&c.to_string()),
                }
            }
            Ok(Status::Success)
        }
        McpCommand::Prompts { server } => {
            let conn = connect(&config, &server, &settings, cancel).await?;
            let listed = conn.prompts(cancel).await;
            conn.close().await;
            let prompts = listed?;
            if app.json {
                output::json(&Value::Array(prompts));
            } else if prompts.is_empty() {
                eprintln!("{server} has no prompts");
            } else {
                let rows: Vec<Vec<String>> = prompts
                    .iter()
                    .map(|p| {
                        let args: Vec<String> = p["arguments"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|a| format!("{}{}", text(&a["name"]), if a["required"] == true { "*" } else { "" }))
                            .collect();
                        vec![text(&p["name"]), args.join(", "), output::one_line(&text(&p["description"]), 60)]
                    })
                    .collect();
                outln(&output::table(&["NAME", "ARGUMENTS (* required)", "DESCRIPTION"], &rows));
            }
            Ok(Status::Success)
        }
        McpCommand::Get { server, name, args } => {
            let args = read_args(args)?;
            let conn = connect(&config, &server, &settings, cancel).await?;
            let got = conn.prompt(&name, args, cancel).await;
            conn.close().await;
            let prompt = got?;
            if app.json {
                output::json(&prompt);
                return Ok(Status::Success);
            }
            if let Some(d) = prompt["description"].as_str() {
                eprintln!("{}", output::dim(d));
            }
            for m in prompt["messages"].as_array().into_iter().flatten() {
                let content = vuhitra_mcp::client::content_text(std::slice::from_ref(&m["content"]));
                outln(&format!("[{}]\n{content}\n", text(&m["role"])));
            }
            Ok(Status::Success)
        }
        McpCommand::Serve => {
            super::mcp_serve::serve(app, cancel).await?;
            Ok(Status::Success)
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[allow(clippy::too_many_arguments)]
fn new_entry(
    command: Vec<String>,
    url: Option<String>,
    headers: Vec<String>,
    env: Vec<String>,
    cwd: Option<PathBuf>,
    allow: Vec<String>,
    disabled: bool,
) -> anyhow::Result<ServerEntry> {
    let mut entry = match (command.split_first(), url) {
        (Some((program, rest)), None) => ServerEntry::stdio(program.clone(), rest.to_vec()),
        (None, Some(url)) => ServerEntry { url: Some(url), ..Default::default() },
        _ => {
            return Err(crate::exit::usage(
                "say how to reach the server: a command after `--`, or --url",
                Some("vuhitra mcp add NAME -- COMMAND ARGS..."),
            ))
        }
    };
    for pair in env {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| crate::exit::usage(format!("--env wants KEY=VALUE, not \"{pair}\""), None))?;
        entry.env.insert(k.to_string(), v.to_string());
    }
    let mut header_map = BTreeMap::new();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| crate::exit::usage(format!("--header wants 'Name: value', not \"{h}\""), None))?;
        header_map.insert(k.trim().to_string(), v.trim().to_string());
    }
    entry.headers = header_map;
    entry.cwd = cwd;
    entry.allow = allow;
    if disabled {
        entry.enabled = Some(false);
    }
    Ok(entry)
}

fn switch(app: &App, config: &mut McpConfig, path: &Path, name: &str, on: bool) -> anyhow::Result<Status> {
    config.get(name)?;
    let entry = config.servers.get_mut(name).expect("just found");
    entry.enabled = Some(on);
    // Cline's spelling would contradict ours; keep one switch.
    entry.disabled = None;
    config.save(path)?;
    if app.json {
        output::json(&json!({"server": name, "enabled": on}));
    } else {
        eprintln!("{name} is {}", if on { "enabled" } else { "disabled" });
    }
    Ok(Status::Success)
}

async fn connect(
    config: &McpConfig,
    name: &str,
    settings: &ClientSettings,
    cancel: &CancellationToken,
) -> anyhow::Result<Connection> {
    let (name, entry) = server(config, name)?;
    Ok(Connection::start(&name, &entry, settings, cancel).await?)
}

/// The arguments of `--args`: JSON text, or `-` for stdin.
fn read_args(args: Option<String>) -> anyhow::Result<serde_json::Map<String, Value>> {
    let text = match args.as_deref() {
        Some("-") => std::io::read_to_string(std::io::stdin())?,
        Some(t) => t.to_string(),
        None => String::new(),
    };
    vuhitra_mcp::schema::parse_args(Some(&text))
        .map_err(|m| crate::exit::usage(m, Some("for example --args '{\"path\": \"/tmp\"}'")))
}

async fn list(
    app: &App,
    config: &McpConfig,
    path: &Path,
    no_start: bool,
    settings: &ClientSettings,
    cancel: &CancellationToken,
) -> anyhow::Result<Status> {
    if config.servers.is_empty() {
        if app.json {
            output::json(&json!([]));
        } else {
            eprintln!("no MCP servers in {}; add one: vuhitra mcp add NAME -- COMMAND ARGS...", path.display());
        }
        return Ok(Status::Success);
    }
    let started = futures_util::future::join_all(config.servers.iter().map(|(name, entry)| async move {
        if no_start || !entry.is_enabled() {
            return (name, entry, None);
        }
        let conn = Connection::start(name, entry, settings, cancel).await;
        let described = match conn {
            Ok(conn) => {
                let info = conn.info();
                let tools =
                    if conn.has_capability("tools") { conn.tools(cancel).await.map(|t| t.len()) } else { Ok(0) };
                let startup = conn.startup;
                conn.close().await;
                tools.map(|n| (info, n, startup))
            }
            Err(e) => Err(e),
        };
        (name, entry, Some(described))
    }))
    .await;
    let mut failed = false;
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for (name, entry, outcome) in started {
        let how = match (&entry.command, &entry.url) {
            (Some(c), _) => {
                std::iter::once(c.as_str()).chain(entry.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
            }
            (None, Some(u)) => u.clone(),
            _ => "?".into(),
        };
        let mut item = json!({"name": name, "enabled": entry.is_enabled(), "transport": if entry.url.is_some() { "http" } else { "stdio" }, "target": how, "allow": entry.allow});
        let status = match outcome {
            None if !entry.is_enabled() => "disabled".to_string(),
            None => "not started".to_string(),
            Some(Ok((info, tools, startup))) => {
                item["server"] = json!({"name": info.name, "version": info.version});
                item["protocol_version"] = json!(info.protocol_version);
                item["capabilities"] = json!(info.capabilities);
                item["tools"] = json!(tools);
                item["startup_ms"] = json!(startup.as_secs_f64() * 1000.0);
                format!(
                    "ok · {} {} · protocol {} · {} · {tools} tool{} · {:.0} ms",
                    info.name,
                    info.version,
                    info.protocol_version,
                    info.capabilities.join(", "),
                    if tools == 1 { "" } else { "s" },
                    startup.as_secs_f64() * 1000.0
                )
            }
            Some(Err(McpError::Cancelled)) => return Err(McpError::Cancelled.into()),
            Some(Err(e)) => {
                failed = true;
                item["error"] = json!(e.to_string());
                format!("error: {}", e.to_string().replace('\n', "\n    "))
            }
        };
        rows.push(vec![name.clone(), output::one_line(&how, 50), status]);
        items.push(item);
    }
    if app.json {
        output::json(&Value::Array(items));
    } else {
        outln(&output::table(&["NAME", "COMMAND / URL", "STATUS"], &rows));
    }
    Ok(Status::failed_if(failed, 1))
}

async fn tools(
    app: &App,
    config: &McpConfig,
    only: Option<&str>,
    settings: &ClientSettings,
    cancel: &CancellationToken,
) -> anyhow::Result<Status> {
    let adhoc;
    let (config, only) = match only {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            let (name, entry) = server(config, url)?;
            adhoc = McpConfig { servers: [(name.clone(), entry.into_owned())].into(), ..Default::default() };
            (&adhoc, Some("remote"))
        }
        other => (config, other),
    };
    if only.is_none() && config.enabled().next().is_none() {
        return Err(crate::exit::usage(
            "no enabled MCP servers",
            Some("add one: vuhitra mcp add NAME -- COMMAND ARGS... (see vuhitra mcp list)"),
        ));
    }
    let toolbox = Toolbox::start(config, only, settings, cancel).await?;
    for u in &toolbox.unavailable {
        output::warn(&u.error.to_string());
    }
    if app.json {
        let items: Vec<Value> = toolbox
            .tools()
            .iter()
            .map(|t| {
                json!({
                    "server": t.server,
                    "name": t.tool.name,
                    "qualified_name": t.qualified,
                    "title": t.tool.title,
                    "description": t.tool.description,
                    "input_schema": t.tool.input_schema,
                    "output_schema": t.tool.output_schema,
                    "annotations": t.tool.annotations,
                })
            })
            .collect();
        output::json(&Value::Array(items));
    } else {
        let rows: Vec<Vec<String>> = toolbox
            .tools()
            .iter()
            .map(|t| {
                vec![
                    t.server.clone(),
                    t.tool.name.clone(),
                    argument_names(&t.tool.input_schema),
                    output::one_line(t.tool.description.as_deref().unwrap_or_default(), 60),
                ]
            })
            .collect();
        if rows.is_empty() && toolbox.unavailable.is_empty() {
            eprintln!("no tools");
        } else if !rows.is_empty() {
            outln(&output::table(&["SERVER", "TOOL", "ARGUMENTS (* required)", "DESCRIPTION"], &rows));
        }
    }
    let failed = !toolbox.unavailable.is_empty();
    toolbox.close().await;
    Ok(Status::failed_if(failed, 1))
}

/// `a*, b` from a JSON Schema object: the properties, required ones starred.
pub fn argument_names(schema: &Value) -> String {
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let names: Vec<String> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| if required.contains(&k.as_str()) { format!("{k}*") } else { k.clone() })
        .collect();
    names.join(", ")
}

async fn call(
    app: &App,
    config: &McpConfig,
    server_name: &str,
    tool: &str,
    args: Option<String>,
    settings: &ClientSettings,
    cancel: &CancellationToken,
) -> anyhow::Result<Status> {
    let args = read_args(args)?;
    let conn = connect(config, server_name, settings, cancel).await?;
    let outcome = call_checked(&conn, tool, args, cancel).await;
    conn.close().await;
    let outcome = outcome?;
    if app.json {
        output::json(&json!({
            "server": server_name,
            "tool": tool,
            "is_error": outcome.is_error,
            "text": outcome.text,
            "content": outcome.content,
            "structured_content": outcome.structured,
        }));
    } else {
        if outcome.is_error {
            eprintln!("{server_name}/{tool} reported an error:");
        }
        if !outcome.text.is_empty() {
            outln(&outcome.text);
        }
        // Servers often send the structured content as text too; show it once.
        let same = |s: &Value| serde_json::from_str::<Value>(&outcome.text).is_ok_and(|t| t == *s);
        if let Some(s) = outcome.structured.as_ref().filter(|s| !same(s)) {
            eprintln!("{}", output::dim("structured content:"));
            outln(&serde_json::to_string_pretty(s).expect("JSON serialises"));
        }
    }
    Ok(Status::failed_if(outcome.is_error, 1))
}

/// Finds the tool, checks the arguments against its schema, then calls it.
async fn call_checked(
    conn: &Connection,
    tool: &str,
    args: serde_json::Map<String, Value>,
    cancel: &CancellationToken,
) -> anyhow::Result<vuhitra_mcp::CallOutcome> {
    let tools = conn.tools(cancel).await?;
    let Some(info) = tools.iter().find(|t| t.name == tool) else {
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        return Err(crate::exit::usage(
            format!("{} has no tool \"{tool}\"", conn.name),
            Some(&format!("its tools: {}", if names.is_empty() { "none".into() } else { names.join(", ") })),
        ));
    };
    vuhitra_mcp::toolbox::check_arguments(&info.name, &info.input_schema, &args).map_err(|e| {
        crate::exit::usage(
            e.to_string(),
            Some(&format!("its arguments (* required): {}", argument_names(&info.input_schema))),
        )
    })?;
    Ok(conn.call(tool, args, cancel).await?)
}
