//! Reachability probes for every service Vuhitra can use: whether it
//! answers, its version, and the round-trip latency. `doctor` and
//! `config validate --services` print these.

use std::time::{Duration, Instant};

use serde::Serialize;
use url::Url;

use vuhitra_core::remote::Access;

use crate::app::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Reachable, but something needs attention (e.g. the default model is missing).
    Warn,
    Fail,
    /// Not configured: the embedded backend is used.
    Embedded,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub service: &'static str,
    pub target: String,
    pub status: Status,
    pub version: Option<String>,
    pub latency_ms: Option<f64>,
    pub detail: String,
}

impl Probe {
    fn new(service: &'static str, target: impl Into<String>) -> Self {
        Probe {
            service,
            target: target.into(),
            status: Status::Ok,
            version: None,
            latency_ms: None,
            detail: String::new(),
        }
    }
    fn fail(mut self, detail: impl Into<String>) -> Self {
        self.status = Status::Fail;
        self.detail = detail.into();
        self
    }
    fn timed(mut self, since: Instant) -> Self {
        self.latency_ms = Some((since.elapsed().as_secs_f64() * 1e4).round() / 10.0);
        self
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The oldest Redis whose commands and protocol Vuhitra relies on.
const MIN_REDIS: (u32, u32) = (7, 2);

pub async fn probe_all(app: &App) -> Vec<Probe> {
    let c = &app.config;
    let (ollama, redis, es, spark, sandbox) = tokio::join!(
        probe_ollama(app),
        async {
            match &c.redis_url {
                Some(u) => probe_redis(u, &c.redis_access).await,
                None => embedded("redis", "REDIS_URL unset"),
            }
        },
        async {
            match &c.elasticsearch_url {
                Some(u) => probe_elasticsearch(u, &c.elasticsearch_access).await,
                None => embedded("elasticsearch", "ELASTICSEARCH_URL unset"),
            }
        },
        async {
            match &c.spark_master {
                Some(u) => probe_spark(u).await,
                None => embedded("spark", "SPARK_MASTER unset"),
            }
        },
        probe_sandbox(app),
    );
    vec![ollama, probe_store(app), redis, es, spark, sandbox]
}

fn embedded(service: &'static str, detail: &str) -> Probe {
    Probe { status: Status::Embedded, ..Probe::new(service, "embedded") }.with_detail(detail)
}

impl Probe {
    fn with_detail(mut self, d: &str) -> Self {
        self.detail = d.to_string();
        self
    }
}

async fn probe_ollama(app: &App) -> Probe {
    let url = app.config.ollama_url.to_string();
    let p = Probe::new("ollama", url);
    let client = app.ollama_with_retries(0);
    let start = Instant::now();
    let version = match tokio::time::timeout(PROBE_TIMEOUT, client.version()).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return p.fail(e.to_string()),
        Err(_) => return p.fail("no answer within 5 s"),
    };
    let mut p = p.timed(start);
    p.version = Some(version);
    match client.list_models().await {
        Ok(models) => {
            let wanted = &app.config.model;
            let has = models.iter().any(|m| &m.name == wanted || m.name == format!("{wanted}:latest"));
            p.detail = format!("{} model(s)", models.len());
            if !has {
                p.status = Status::Warn;
                p.detail.push_str(&format!("; MODEL {wanted} is not pulled (vuhitra models pull {wanted})"));
            }
        }
        Err(e) => return p.fail(format!("listing models failed: {e}")),
    }
    p
}

fn probe_store(app: &App) -> Probe {
    let path = app.config.store_path();
    let p = Probe::new("store", path.display().to_string());
    let start = Instant::now();
    match vuhitra_store::Store::open(&path) {
        Ok(s) => {
            let mut p = p.timed(start);
            p.version = s.schema_version().ok().map(|v| format!("schema {v}"));
            p.detail = "SQLite, WAL".into();
            p
        }
        Err(e) => p.fail(e.to_string()),
    }
}

async fn probe_redis(url: &Url, access: &Access) -> Probe {
    let p = Probe::new("redis", url.as_str());
    let start = Instant::now();
    let mut conn = match vuhitra_store::redis_client::connect(url, access, PROBE_TIMEOUT).await {
        Ok(c) => c,
        Err(e @ vuhitra_store::StoreError::Login { .. }) => {
            return p.fail(format!("{e}; {}", e.hint().unwrap_or_default()));
        }
        Err(e) => return p.fail(e.to_string()),
    };
    let info =
        match tokio::time::timeout(PROBE_TIMEOUT, redis::cmd("INFO").arg("server").query_async::<String>(&mut conn))
            .await
        {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => return p.fail(format!("INFO failed: {e}")),
            Err(_) => return p.fail("no answer within 5 s"),
        };
    let mut p = p.timed(start);
    let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
    let version = field("redis_version:").unwrap_or_default();
    p.version = Some(match field("valkey_version:") {
        Some(v) => format!("{version} (valkey {v})"),
        None => version.clone(),
    });
    match parse_major_minor(&version) {
        Some(v) if v >= MIN_REDIS => p.detail = "version ok".into(),
        _ => return p.fail(format!("version {version} is older than the required {}.{}", MIN_REDIS.0, MIN_REDIS.1)),
    }
    p
}

fn parse_major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

async fn probe_elasticsearch(url: &Url, access: &Access) -> Probe {
    let p = Probe::new("elasticsearch", url.as_str());
    let http = match vuhitra_core::http::client_for(PROBE_TIMEOUT, access) {
        Ok(h) => h,
        Err(e) => return p.fail(e.to_string()),
    };
    let get = |path: &str| {
        let req = http.get(url.join(path).expect("static path joins")).timeout(PROBE_TIMEOUT);
        async move {
            let resp = req.send().await.map_err(|e| format!("unreachable: {}", access.explain(url, &e)))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| access.explain(url, &e))?;
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            if !status.is_success() {
                let reason = body.pointer("/error/reason").and_then(|r| r.as_str()).unwrap_or(text.trim());
                let hint = if matches!(status.as_u16(), 401 | 403) {
                    format!("; {}", access.login_hint())
                } else {
                    String::new()
                };
                return Err(format!("HTTP {status}: {reason}{hint}"));
            }
            Ok(body)
        }
    };
    let start = Instant::now();
    let health = match get("_cluster/health").await {
        Ok(h) => h,
        Err(e) => return p.fail(e),
    };
    let mut p = p.timed(start);
    // The node info carries the version (some distributions route GET / elsewhere).
    if let Ok(nodes) = get("_nodes/_local?filter_path=nodes.*.version").await {
        p.version = nodes["nodes"]
            .as_object()
            .and_then(|n| n.values().next())
            .and_then(|n| n["version"].as_str())
            .map(str::to_string);
    }
    let status = health["status"].as_str().unwrap_or("unknown").to_string();
    p.detail = format!("cluster {status}");
    if status == "red" || status == "unknown" {
        p.status = Status::Fail;
    }
    p
}

async fn probe_spark(url: &Url) -> Probe {
    let p = Probe::new("spark", url.as_str());
    let default_port = if url.scheme() == "sc" { 15002 } else { 7077 };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port().unwrap_or(default_port);
    let start = Instant::now();
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => {
            let mut p = p.timed(start);
            p.detail = format!("port {port} accepts connections");
            p
        }
        Ok(Err(e)) => p.fail(format!("unreachable: {e}")),
        Err(_) => p.fail("no answer within 5 s"),
    }
}

async fn probe_sandbox(app: &App) -> Probe {
    match &app.config.sandbox_container {
        Some(name) => probe_container(name).await,
        None => {
            let ws = &app.config.workspace;
            let p = Probe { status: Status::Embedded, ..Probe::new("sandbox", ws.display().to_string()) };
            let check = std::fs::create_dir_all(ws).and_then(|_| tempfile_in(ws));
            match check {
                Ok(()) => p.with_detail("local workspace writable"),
                Err(e) => p.fail(format!("workspace not writable: {e}")),
            }
        }
    }
}

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".vuhitra-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}

/// Asks the Docker Engine API whether the sandbox container runs.
async fn probe_container(name: &str) -> Probe {
    let socket = vuhitra_sandbox::docker::docker_socket();
    let p = Probe::new("sandbox", format!("container {name} via {socket}"));
    let start = Instant::now();
    let path = format!("/containers/{name}/json");
    let request = vuhitra_sandbox::docker::request(&socket, "GET", &path, None);
    let (status, body) = match tokio::time::timeout(PROBE_TIMEOUT, request).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return p.fail(format!("Docker API unreachable at {socket}: {e}")),
        Err(_) => return p.fail("Docker API did not answer within 5 s"),
    };
    let p = p.timed(start);
    if status == 404 {
        return p.fail(format!("no container named {name}"));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if v["State"]["Running"].as_bool() == Some(true) {
        Probe { version: v["Config"]["Image"].as_str().map(str::to_string), ..p }.with_detail("running")
    } else {
        p.fail(format!("container {name} is not running (HTTP {status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_versions_compare_by_major_and_minor() {
        assert!(parse_major_minor("7.2.4").unwrap() >= MIN_REDIS);
        assert!(parse_major_minor("8.0.1").unwrap() >= MIN_REDIS);
        assert!(parse_major_minor("7.0.15").unwrap() < MIN_REDIS);
        assert!(parse_major_minor("garbage").is_none());
    }
}
