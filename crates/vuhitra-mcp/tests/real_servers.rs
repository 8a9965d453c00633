//! The client against real MCP servers from the registries (installed by
//! scripts/services): @modelcontextprotocol/server-filesystem and
//! server-everything from npm, mcp-server-time from PyPI, and a misbehaving
//! server written on the official Python SDK (tests/fixtures/flaky_server.py),
//! plus plain processes that are not MCP servers at all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use vuhitra_mcp::{ClientSettings, Connection, McpConfig, McpError, ServerEntry, Toolbox};
use vuhitra_testkit::{need, service};

fn settings(timeout_secs: u64) -> ClientSettings {
    ClientSettings { timeout: Duration::from_secs(timeout_secs), ..Default::default() }
}

fn args(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

fn flaky(extra: &[&str]) -> Option<ServerEntry> {
    let python = service("VUHITRA_TEST_MCP_PYTHON", "Python with the official MCP SDK")?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/flaky_server.py");
    let mut a = vec![script.to_string()];
    a.extend(extra.iter().map(|s| s.to_string()));
    Some(ServerEntry::stdio(python, a))
}

fn alive(pid: u32) -> bool {
    // /proc/PID exists until the process is reaped; a zombie counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

#[tokio::test]
async fn the_filesystem_server_lists_and_runs_its_tools() {
    let bin = need!(service("VUHITRA_TEST_MCP_FILESYSTEM", "@modelcontextprotocol/server-filesystem"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "hello from a file\n").unwrap();
    let entry = ServerEntry::stdio(bin, vec![dir.path().display().to_string()]);
    let cancel = CancellationToken::new();
    let conn = Connection::start("fs", &entry, &settings(30), &cancel).await.unwrap();
    let info = conn.info();
    assert!(info.protocol_version.starts_with("20"), "{info:?}");
    assert!(info.capabilities.contains(&"tools".to_string()), "{info:?}");
    let tools = conn.tools(&cancel).await.unwrap();
    let read = tools.iter().find(|t| t.name == "read_text_file").expect("read_text_file is listed");
    assert_eq!(read.input_schema["properties"]["path"]["type"], "string");

    let path = dir.path().join("note.txt").display().to_string();
    let out = conn.call("read_text_file", args(json!({"path": path})), &cancel).await.unwrap();
    assert!(!out.is_error && out.text.contains("hello from a file"), "{out:?}");

    // Outside the allowed directory: the server's own error result.
    let out = conn.call("read_text_file", args(json!({"path": "/etc/hostname"})), &cancel).await.unwrap();
    assert!(out.is_error, "{out:?}");
    assert!(out.text.to_lowercase().contains("denied"), "{out:?}");
    conn.close().await;
}

#[tokio::test]
async fn the_time_server_answers_a_call_and_the_toolbox_checks_arguments() {
    let bin = need!(service("VUHITRA_TEST_MCP_TIME", "mcp-server-time"));
    let mut config = McpConfig::default();
    config.servers.insert("time".into(), ServerEntry::stdio(bin, vec![]));
    let cancel = CancellationToken::new();
    let toolbox = Toolbox::start(&config, None, &settings(30), &cancel).await.unwrap();
    assert!(toolbox.unavailable.is_empty(), "{:?}", toolbox.unavailable);
    let names: Vec<&str> = toolbox.tools().iter().map(|t| t.qualified.as_str()).collect();
    assert!(names.contains(&"time__get_current_time"), "{names:?}");
    let model_tools = toolbox.model_tools();
    let t = model_tools.iter().find(|t| t.function.name == "time__get_current_time").unwrap();
    assert_eq!(t.function.parameters["required"], json!(["timezone"]), "the input schema goes to the model");

    let out = toolbox.call("time__get_current_time", &json!({"timezone": "Asia/Tokyo"}), &cancel).await.unwrap();
    assert!(!out.is_error && out.text.contains("Asia/Tokyo"), "{out:?}");

    let e = toolbox.call("time__get_current_time", &json!({"zone": "UTC"}), &cancel).await.unwrap_err();
    assert!(matches!(e, McpError::Arguments(_)) && e.to_string().contains("timezone"), "{e}");
    let e = toolbox.call("time__nope", &json!({}), &cancel).await.unwrap_err();
    assert!(e.to_string().contains("time__get_current_time"), "the known tools are listed: {e}");
    toolbox.close().await;
}

#[tokio::test]
async fn the_everything_server_gives_resources_and_prompts() {
    let bin = need!(service("VUHITRA_TEST_MCP_EVERYTHING", "@modelcontextprotocol/server-everything"));
    let cancel = CancellationToken::new();
    let conn = Connection::start("every", &ServerEntry::stdio(bin, vec![]), &settings(30), &cancel).await.unwrap();
    let resources = conn.resources(&cancel).await.unwrap();
    let uri = resources
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .find(|u| u.ends_with(".md"))
        .expect("a text resource is listed")
        .to_string();
    let contents = conn.read(&uri, &cancel).await.unwrap();
    assert!(contents[0]["text"].as_str().is_some_and(|t| !t.is_empty()), "{contents:?}");

    let prompts = conn.prompts(&cancel).await.unwrap();
    assert!(prompts.iter().any(|p| p["name"] == "args-prompt"), "{prompts:?}");
    let got = conn.prompt("args-prompt", args(json!({"city": "Lisbon"})), &cancel).await.unwrap();
    assert!(got["messages"].to_string().contains("Lisbon"), "{got}");
    let e = conn.read("demo://no/such/thing", &cancel).await.unwrap_err();
    assert!(e.to_string().contains("MCP server \"every\""), "{e}");
    conn.close().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_is_named_with_the_reason() {
    let cancel = CancellationToken::new();
    let missing = ServerEntry::stdio("/nonexistent/mcp-server", vec![]);
    let e = Connection::start("ghost", &missing, &settings(5), &cancel).await.err().unwrap();
    let m = e.to_string();
    assert!(m.contains("\"ghost\"") && m.contains("was not found"), "{m}");

    let crash = ServerEntry::stdio("sh", vec!["-c".into(), "echo 'fatal: no config' >&2; exit 3".into()]);
    let e = Connection::start("crash", &crash, &settings(5), &cancel).await.err().unwrap();
    let m = e.to_string();
    assert!(m.contains("\"crash\"") && m.contains("exit status 3") && m.contains("fatal: no config"), "{m}");
}

#[tokio::test]
async fn a_server_that_writes_garbage_and_never_answers_times_out_with_what_it_wrote() {
    let cancel = CancellationToken::new();
    let noisy = ServerEntry::stdio("sh", vec!["-c".into(), "echo 'Server listening on port 3000'; sleep 60".into()]);
    let began = Instant::now();
    let e = Connection::start("noisy", &noisy, &settings(2), &cancel).await.err().unwrap();
    assert!(began.elapsed() < Duration::from_secs(10), "the deadline holds");
    let m = e.to_string();
    assert!(m.contains("no answer to the handshake within 2 s"), "{m}");
    assert!(m.contains("1 line to stdout") && m.contains("Server listening on port 3000"), "{m}");
}

#[tokio::test]
async fn stray_stdout_lines_do_not_break_a_working_server() {
    let entry = need!(flaky(&["--noise"]));
    let cancel = CancellationToken::new();
    let conn = Connection::start("flaky", &entry, &settings(30), &cancel).await.unwrap();
    let out = conn.call("echo", args(json!({"text": "still here"})), &cancel).await.unwrap();
    assert_eq!(out.text, "still here");
    conn.close().await;
}

#[tokio::test]
async fn a_server_that_exits_mid_call_or_hangs_is_reported_and_the_others_keep_working() {
    let entry = need!(flaky(&[]));
    let time = need!(service("VUHITRA_TEST_MCP_TIME", "mcp-server-time"));
    let mut config = McpConfig::default();
    config.servers.insert("flaky".into(), entry.clone());
    config.servers.insert("time".into(), ServerEntry::stdio(time, vec![]));
    let cancel = CancellationToken::new();
    let toolbox = Toolbox::start(&config, None, &settings(3), &cancel).await.unwrap();

    let out = toolbox.call("flaky__fail", &json!({}), &cancel).await.unwrap();
    assert!(out.is_error && out.text.contains("fail"), "an error result is an outcome: {out:?}");

    let began = Instant::now();
    let e = toolbox.call("flaky__hang", &json!({}), &cancel).await.unwrap_err().to_string();
    assert!(e.contains("\"flaky\"") && e.contains("no answer to tools/call hang within 3 s"), "{e}");
    assert!(began.elapsed() < Duration::from_secs(10));

    let e = toolbox.call("flaky__die", &json!({}), &cancel).await.unwrap_err().to_string();
    assert!(e.contains("\"flaky\"") && e.contains("exited during tools/call die (exit status 7)"), "{e}");
    assert!(e.contains("exiting on purpose"), "its stderr is quoted: {e}");

    let out = toolbox.call("time__get_current_time", &json!({"timezone": "UTC"}), &cancel).await.unwrap();
    assert!(!out.is_error, "the other server still works: {out:?}");
    toolbox.close().await;
}

#[tokio::test]
async fn a_broken_server_is_left_out_of_the_toolbox() {
    let time = need!(service("VUHITRA_TEST_MCP_TIME", "mcp-server-time"));
    let mut config = McpConfig::default();
    config.servers.insert("broken".into(), ServerEntry::stdio("false", vec![]));
    config.servers.insert("time".into(), ServerEntry::stdio(time, vec![]));
    let off = ServerEntry { enabled: Some(false), ..ServerEntry::stdio("false", vec![]) };
    config.servers.insert("off".into(), off);
    let cancel = CancellationToken::new();
    let toolbox = Toolbox::start(&config, None, &settings(10), &cancel).await.unwrap();
    assert_eq!(toolbox.unavailable.len(), 1, "the disabled server is not started");
    assert_eq!(toolbox.unavailable[0].server, "broken");
    assert!(toolbox.tools().iter().all(|t| t.server == "time") && !toolbox.tools().is_empty());
    toolbox.close().await;
}

#[tokio::test]
async fn cancelling_a_call_stops_it_and_the_server_and_its_children_are_reaped() {
    let entry = need!(flaky(&[]));
    let cancel = CancellationToken::new();
    let conn = Connection::start("flaky", &entry, &settings(60), &cancel).await.unwrap();
    let server_pid = conn.pid().expect("a stdio server has a pid");
    let grandchild: u32 = conn.call("spawn", Default::default(), &cancel).await.unwrap().text.parse().unwrap();
    assert!(alive(server_pid) && alive(grandchild));

    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.cancel();
    });
    let began = Instant::now();
    let e = conn.call("hang", Default::default(), &cancel).await.unwrap_err();
    assert!(matches!(e, McpError::Cancelled), "{e}");
    assert!(began.elapsed() < Duration::from_secs(5));
    conn.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while (alive(server_pid) || alive(grandchild)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!alive(server_pid), "the server was reaped");
    assert!(!alive(grandchild), "its process group went with it");
}

#[tokio::test]
async fn environment_and_working_directory_reach_the_server() {
    let python = need!(service("VUHITRA_TEST_MCP_PYTHON", "Python with the official MCP SDK"));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("envserver.py");
    std::fs::write(
        &script,
        "import os\nfrom mcp.server.mcpserver import MCPServer\ns = MCPServer('env')\n\
         @s.tool()\ndef where() -> str:\n    return os.getcwd() + ' ' + os.environ.get('GREETING', '-')\n\
         s.run()\n",
    )
    .unwrap();
    let entry = ServerEntry {
        env: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        cwd: Some(dir.path().to_path_buf()),
        ..ServerEntry::stdio(python, vec![script.display().to_string()])
    };
    let cancel = CancellationToken::new();
    let conn = Connection::start("env", &entry, &settings(30), &cancel).await.unwrap();
    let out = conn.call("where", Default::default(), &cancel).await.unwrap();
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(out.text, format!("{} hi", cwd.display()));
    conn.close().await;
}
