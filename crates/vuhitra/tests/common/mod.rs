//! Shared helpers for the end-to-end tests: each test runs `vuhitra` in a
//! fresh data dir and working dir, with the caller's configuration removed
//! from the environment so nothing on the machine leaks in.
#![allow(dead_code, unused_macros, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The value of an `Option` from a service helper, or the end of the test
/// (in a partial run the helper has recorded the skip; otherwise it failed).
macro_rules! need {
    ($e:expr) => {
        vuhitra_testkit::need!($e)
    };
}

pub use vuhitra_testkit::{have, require, service};

pub struct TestEnv {
    pub home: tempfile::TempDir,
    pub cwd: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv { home: tempfile::tempdir().unwrap(), cwd: tempfile::tempdir().unwrap(), vars: Vec::new() }
    }

    /// A test env whose workspace the sandbox account can reach (tempdirs
    /// are 0700, and the suite runs as root in CI).
    pub fn with_sandbox_workspace() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let mut env = TestEnv::new();
        std::fs::set_permissions(env.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ws = env.home.path().join("workspace").display().to_string();
        env.set("WORKSPACE_PATH", &ws);
        env
    }

    /// A test env pointed at the real Ollama started by scripts/test.
    pub fn with_ollama(o: &Ollama) -> Self {
        let mut env = TestEnv::new();
        env.set("OLLAMA_IP", &o.url).set("MODEL", &o.model);
        env
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.cwd.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_under(&[], args)
    }

    /// `cmd`, run through a wrapper program (`["/usr/bin/time", "-f", "%M"]`)
    /// that gets the vuhitra binary and `args` as its arguments.
    pub fn cmd_under(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_vuhitra");
        let mut c = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        for k in vuhitra_core::config::KEYS {
            c.env_remove(k.name);
        }
        c.env("VUHITRA_HOME", self.home.path())
            .env_remove("DOCKER_HOST")
            .current_dir(self.cwd.path())
            .stdin(Stdio::null())
            .args(args);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    /// Starts every command at once and waits for all of them.
    pub fn run_concurrently(&self, commands: &[Vec<String>]) -> Vec<Run> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        children.into_iter().map(|c| Run::from(c.wait_with_output().unwrap())).collect()
    }

    /// Runs with `input` piped to stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child =
            self.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub struct Ollama {
    pub url: String,
    pub model: String,
}

pub fn ollama() -> Option<Ollama> {
    let url = service("VUHITRA_TEST_OLLAMA", "a real Ollama")?;
    let model = std::env::var("VUHITRA_TEST_MODEL").unwrap_or_else(|_| "gemma3-270m".into());
    Some(Ollama { url, model })
}

pub fn elasticsearch() -> Option<String> {
    service("VUHITRA_TEST_ELASTICSEARCH", "Elasticsearch 8.11")
}

pub fn redis() -> Option<String> {
    service("VUHITRA_TEST_REDIS", "a Redis >= 7.2 (Valkey)")
}

pub fn old_redis() -> Option<String> {
    service("VUHITRA_TEST_OLD_REDIS", "Debian's Redis 7.0")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap().to_path_buf()
}

/// One REST call to a service, for setting it up or checking what vuhitra
/// wrote.
pub fn http(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = vuhitra_core::http::client(std::time::Duration::from_secs(5));
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    })
}

/// A tools template for the SmolLM2-135M test model (VUHITRA_TEST_TOOLS_MODEL),
/// with worked examples of calling mcp-server-time's tool as the model sees
/// it (`time__get_current_time`). With it Ollama offers the model tools and
/// parses its JSON answer into `tool_calls`.
const TIME_TOOLS_TEMPLATE: &str = r#"{{- if .Tools }}<|im_start|>system
You answer by calling a function, as JSON. Functions:
{{- range .Tools }}
{{ json .Function }}
{{- end }}<|im_end|>
<|im_start|>user
What time is it in Rome?<|im_end|>
<|im_start|>assistant
{"name": "time__get_current_time", "arguments": {"timezone": "Europe/Rome"}}<|im_end|>
<|im_start|>user
What time is it in Berlin?<|im_end|>
<|im_start|>assistant
{"name": "time__get_current_time", "arguments": {"timezone": "Europe/Berlin"}}<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}{{ end }}{{ else }}{{ .Content }}{{ end }}<|im_end|>
{{ end }}<|im_start|>assistant
"#;

/// A model of its own for one test, made from the tools test model with
/// the template above; remove it with [`delete_model`].
pub fn time_tools_model(o: &Ollama, tag: &str) -> Option<String> {
    let base = service("VUHITRA_TEST_TOOLS_MODEL", "a model for tool calls")?;
    let model = format!("vuhitra-time-tools-{tag}-{}", std::process::id());
    let (status, body) = http(
        "POST",
        &format!("{}/api/create", o.url),
        Some(serde_json::json!({"model": model, "from": base, "template": TIME_TOOLS_TEMPLATE, "stream": false,
                    "parameters": {"temperature": 0, "num_predict": 64, "stop": ["<|im_end|>"]}})),
    );
    assert_eq!(status, 200, "{body}");
    Some(model)
}

pub fn delete_model(o: &Ollama, model: &str) {
    let _ = http("DELETE", &format!("{}/api/delete", o.url), Some(serde_json::json!({"model": model})));
}
