//! The container backend: runs commands in the stack's `sandbox` container
//! through the Docker Engine API over its Unix socket (create an exec, start
//! it attached, read the multiplexed output, inspect the exit code).
//!
//! Inside the container the limits are applied by the shell (`ulimit`) and
//! `timeout`, and the command runs as `nobody`. The network is the
//! container's: an exec cannot take it away, so `--network` has no effect
//! here and isolation comes from how the container is run.

use std::time::Instant;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::exec::{Executor, RunOutcome, RunSpec, SandboxError};

/// Where the Docker Engine API listens: DOCKER_HOST (unix://…) or the default socket.
pub fn docker_socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string())
}

/// One HTTP/1.0 request over the socket (the server closes the connection
/// at the end of the answer, so the whole body is what follows the headers).
pub async fn request(socket: &str, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = tokio::net::UnixStream::connect(socket).await?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(payload.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
    let status_line = String::from_utf8_lossy(&buf[..split]).lines().next().unwrap_or_default().to_string();
    let status = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, buf[split..].to_vec()))
}

/// The `POST /containers/{name}/exec` body for a run.
pub fn exec_create_body(spec: &RunSpec) -> Value {
    let kib = spec.memory_bytes / 1024;
    let blocks = spec.file_size_bytes / 512;
    let script = format!(
        "ulimit -t {cpu}; ulimit -v {kib}; ulimit -f {blocks}; ulimit -c 0; ulimit -n 256; \
         ulimit -u {procs} 2>/dev/null; exec timeout -s KILL {secs} \"$0\" \"$@\"",
        cpu = spec.cpu_seconds,
        procs = spec.max_processes,
        secs = spec.timeout.as_secs().max(1),
    );
    let mut cmd = vec!["sh".to_string(), "-c".to_string(), script, spec.program.clone()];
    cmd.extend(spec.args.iter().cloned());
    json!({
        "AttachStdin": false,
        "AttachStdout": true,
        "AttachStderr": true,
        "Tty": false,
        "User": "nobody",
        "WorkingDir": spec.workdir,
        "Env": spec.environment().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "Cmd": cmd,
    })
}

/// Splits Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0,
/// big-endian length) into stdout and stderr.
pub fn demux(mut raw: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while raw.len() >= 8 {
        let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let end = (8 + len).min(raw.len());
        let chunk = &raw[8..end];
        match raw[0] {
            2 => err.extend_from_slice(chunk),
            _ => out.extend_from_slice(chunk),
        }
        raw = &raw[end..];
    }
    (out, err)
}

pub struct DockerExecutor {
    pub container: String,
    pub socket: String,
}

impl DockerExecutor {
    fn fail(&self, message: impl Into<String>) -> SandboxError {
        SandboxError::Container { container: self.container.clone(), message: message.into() }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Vec<u8>), SandboxError> {
        request(&self.socket, method, path, body)
            .await
            .map_err(|e| self.fail(format!("the Docker API at {} is unreachable: {e}", self.socket)))
    }
}

impl Executor for DockerExecutor {
    fn describe(&self) -> String {
        format!("container {} via {}", self.container, self.socket)
    }

    async fn run(&self, spec: &RunSpec, cancel: &CancellationToken) -> Result<RunOutcome, SandboxError> {
        tokio::select! {
            r = self.run_exec(spec) => r,
            // The engine keeps the exec until `timeout` inside it ends it:
            // the Docker API has no call that kills one exec.
            _ = cancel.cancelled() => Err(SandboxError::Cancelled),
        }
    }
}

impl DockerExecutor {
    async fn run_exec(&self, spec: &RunSpec) -> Result<RunOutcome, SandboxError> {
        let started = Instant::now();
        let (status, body) =
            self.call("POST", &format!("/containers/{}/exec", self.container), Some(&exec_create_body(spec))).await?;
        let created: Value = serde_json::from_slice(&body).unwrap_or_default();
        let Some(id) = created["Id"].as_str().filter(|_| status == 201) else {
            return Err(
                self.fail(format!("could not create an exec (HTTP {status}): {}", String::from_utf8_lossy(&body)))
            );
        };
        let (_, raw) =
            self.call("POST", &format!("/exec/{id}/start"), Some(&json!({"Detach": false, "Tty": false}))).await?;
        let (_, inspect) = self.call("GET", &format!("/exec/{id}/json"), None).await?;
        let inspect: Value = serde_json::from_slice(&inspect).unwrap_or_default();
        let code = inspect["ExitCode"].as_i64().map(|c| c as i32);
        let (out, err) = demux(&raw);
        let keep = |v: Vec<u8>| {
            let dropped = v.len().saturating_sub(spec.output_cap) as u64;
            (String::from_utf8_lossy(&v[..v.len().min(spec.output_cap)]).into_owned(), dropped)
        };
        let ((stdout, stdout_dropped), (stderr, stderr_dropped)) = (keep(out), keep(err));
        // `timeout -s KILL` exits 137 when it had to kill.
        let timed_out = code == Some(137) && started.elapsed() >= spec.timeout;
        Ok(RunOutcome {
            exit_code: code,
            signal: None,
            timed_out,
            limit: timed_out.then_some("timeout"),
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec() -> RunSpec {
        RunSpec {
            program: "python3".into(),
            args: vec!["job.py".into(), "--rows".into(), "10".into()],
            workdir: "/workspace".into(),
            timeout: Duration::from_secs(30),
            cpu_seconds: 20,
            memory_bytes: 512 << 20,
            file_size_bytes: 1 << 20,
            max_processes: 32,
            output_cap: 1000,
            network: false,
        }
    }

    #[test]
    fn exec_request_carries_limits_user_env_and_arguments_verbatim() {
        let body = exec_create_body(&spec());
        assert_eq!(body["User"], "nobody");
        assert_eq!(body["WorkingDir"], "/workspace");
        assert_eq!(body["AttachStdout"], true);
        let cmd: Vec<&str> = body["Cmd"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(&cmd[..2], ["sh", "-c"]);
        for part in ["ulimit -t 20", "ulimit -v 524288", "ulimit -f 2048", "ulimit -u 32", "timeout -s KILL 30"] {
            assert!(cmd[2].contains(part), "{part} in {}", cmd[2]);
        }
        // The program and its arguments are separate argv entries, never
        // pasted into the shell text.
        assert_eq!(&cmd[3..], ["python3", "job.py", "--rows", "10"]);
        let env: Vec<&str> = body["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(env.contains(&"HOME=/workspace") && env.iter().all(|e| !e.starts_with("OLLAMA")));
    }

    #[test]
    fn multiplexed_output_is_split_by_stream() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"out");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        raw.extend_from_slice(b"err!");
        raw.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 10, b'x']); // cut short
        let (out, err) = demux(&raw);
        assert_eq!((out.as_slice(), err.as_slice()), (&b"outx"[..], &b"err!"[..]));
    }

    #[tokio::test]
    async fn a_missing_docker_socket_is_a_clear_error() {
        let d = DockerExecutor { container: "vuhitra-sandbox".into(), socket: "/nonexistent/docker.sock".into() };
        let err = d.run(&spec(), &CancellationToken::new()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("vuhitra-sandbox") && text.contains("/nonexistent/docker.sock"), "{text}");
        assert!(err.hint().unwrap().contains("SANDBOX_CONTAINER"));
    }
}
