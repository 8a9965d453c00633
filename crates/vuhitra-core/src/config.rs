//! The one configuration loader.
//!
//! Every key Vuhitra reads is described once, in [`KEYS`]. Values are merged
//! from four layers — command-line flag > environment > `.env` in the working
//! directory > built-in default — and each value remembers the layer (and,
//! for `.env`, the line) it came from, so `config show` can say so and a bad
//! value can be reported where the user wrote it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::remote::{Access, Auth, Secret};

/// The documented template; `config init` writes it and a test checks that it
/// names exactly the keys in [`KEYS`].
pub const ENV_TEMPLATE: &str = include_str!("../../../.env.template");

/// What a key's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ollama's address: a URL, or a bare host / host:port.
    OllamaAddress,
    Text,
    /// A byte count, optionally with a unit suffix.
    Size,
    /// An integer in an inclusive range.
    Int {
        min: u64,
        max: u64,
    },
    Bool,
    LogLevel,
    /// A URL whose scheme is one of these; empty means "not configured".
    ServiceUrl(&'static [&'static str]),
    /// A filesystem path; empty means "the default location".
    Path,
    /// Model names separated by commas (empty: none).
    ModelList,
    /// One of these words (case-insensitive).
    Choice(&'static [&'static str]),
    /// A span of time: seconds, or a number with s, m, h or d.
    Duration,
    /// A duration, or 0 for "never expires".
    Lifetime,
    /// A number from 0 to 1.
    Fraction,
    /// Lowercase letters, digits, `-` and `_`, starting with a letter
    /// (what Elasticsearch accepts at the start of an index name).
    IndexPrefix,
    /// A password, token or key: any text, never shown.
    Secret,
}

impl Kind {
    fn expected(&self) -> String {
        match self {
            Kind::OllamaAddress => "an http:// or https:// URL such as http://127.0.0.1:11434, or host[:port]".into(),
            Kind::Text => "non-empty text".into(),
            Kind::ModelList => "model names separated by commas, such as qwen2.5-coder:7b,llama3:8b".into(),
            Kind::Size => "a size in bytes such as 10485760, or with a unit: 10MiB, 100MB, 1GiB".into(),
            Kind::Int { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Bool => "true or false (also 1/0, yes/no, on/off)".into(),
            Kind::LogLevel => "one of TRACE, DEBUG, INFO, WARN, ERROR".into(),
            Kind::ServiceUrl(schemes) => format!(
                "empty (embedded backend) or a URL with scheme {}",
                schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(" or ")
            ),
            Kind::Path => "a filesystem path, or empty for the default".into(),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::Duration => "a duration such as 3600, 90s, 15m, 1h or 7d".into(),
            Kind::Lifetime => "a duration such as 90s, 15m, 1h or 7d, or 0 for none".into(),
            Kind::Fraction => "a number from 0 to 1, such as 0.9".into(),
            Kind::IndexPrefix => "lowercase letters, digits, - and _, starting with a letter".into(),
            Kind::Secret => "any text (never shown)".into(),
        }
    }
}

/// Whether `vuhitra` itself reads a key or only the compose stack does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cli,
    StackOnly,
}

#[derive(Debug)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    /// Built-in default; `""` means unset.
    pub default: &'static str,
    pub help: &'static str,
    pub scope: Scope,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> KeySpec {
    KeySpec { name, kind, default, help, scope: Scope::Cli }
}

pub const KEYS: &[KeySpec] = &[
    key("OLLAMA_IP", Kind::OllamaAddress, "http://127.0.0.1:11434", "where Ollama listens"),
    key("MODEL", Kind::Text, "llama3:8b", "default chat model"),
    key("OLLAMA_CONNECT_TIMEOUT", Kind::Int { min: 1, max: 600 }, "5", "seconds to connect to Ollama"),
    key("OLLAMA_TIMEOUT", Kind::Int { min: 1, max: 86_400 }, "600", "seconds one model request may take"),
    key("OLLAMA_RETRIES", Kind::Int { min: 0, max: 10 }, "3", "retries before the first token"),
    key(
        "OLLAMA_CA_CERT",
        Kind::Path,
        "",
        "PEM file of the CA to trust for an https:// OLLAMA_IP (empty = system roots)",
    ),
    key("OLLAMA_API_KEY", Kind::Secret, "", "bearer token for Ollama behind a proxy that wants one"),
    key("MAX_CONTEXT_FILE_SIZE", Kind::Size, "10485760", "largest context file, bytes"),
    key("MAX_UPLOADED_FILE_SIZE", Kind::Size, "104857600", "largest uploaded file, bytes"),
    key("UPLOAD_TTL", Kind::Lifetime, "24h", "how long an upload stays in the workspace (0 = until removed)"),
    key("MAX_ITERATIONS_DEV", Kind::Int { min: 1, max: 1000 }, "50", "model turns in dev mode"),
    key("MAX_ITERATIONS_PROD", Kind::Int { min: 1, max: 1000 }, "5", "model turns outside dev mode"),
    key("ENABLE_PROMPT_CACHE", Kind::Bool, "false", "similarity prompt cache"),
    key("ENABLE_HEURISTICS", Kind::Bool, "true", "record heuristics per interaction"),
    key("HEURISTICS_RETENTION", Kind::Lifetime, "90d", "how long heuristics records are kept (0 = forever)"),
    key("PROMPT_SIGNATURE", Kind::Choice(&["nlp", "hash"]), "nlp", "how prompts are identified"),
    key("PROMPT_CACHE_TTL", Kind::Duration, "7d", "how long a cached answer lives"),
    key("PROMPT_CACHE_THRESHOLD", Kind::Fraction, "0.8", "similarity a cache hit needs"),
    key("EMBED_MODEL", Kind::Text, "all-minilm", "embedding model (none = lexical similarity only)"),
    key("SHOW_CORRECTIONS", Kind::Bool, "true", "show the model corrections of similar poorly rated prompts"),
    key("MODEL_CODE", Kind::ModelList, "", "model(s) for code prompts (empty = MODEL)"),
    key("MODEL_DATA", Kind::ModelList, "", "model(s) for data-analysis prompts (empty = MODEL)"),
    key("MODEL_EXPLANATION", Kind::ModelList, "", "model(s) for explanation prompts (empty = MODEL)"),
    key("MODEL_QUESTION", Kind::ModelList, "", "model(s) for questions (empty = MODEL)"),
    key("MODEL_CHAT", Kind::ModelList, "", "model(s) for small talk (empty = MODEL)"),
    key(
        "ROUTE_LATENCY_BUDGET",
        Kind::Lifetime,
        "60s",
        "an unrated answer slower than this counts against its model when routing (0 = none)",
    ),
    key("REDIS_URL", Kind::ServiceUrl(&["redis", "rediss"]), "", "Redis (empty = embedded; rediss:// for TLS)"),
    key("REDIS_PASSWORD", Kind::Secret, "", "Redis password, when REDIS_URL carries none"),
    key("REDIS_CA_CERT", Kind::Path, "", "PEM file of the CA to trust for rediss:// (empty = system roots)"),
    key("ELASTICSEARCH_URL", Kind::ServiceUrl(&["http", "https"]), "", "Elasticsearch (empty = embedded)"),
    key("ELASTICSEARCH_CA_CERT", Kind::Path, "", "PEM file of the CA to trust for https:// (empty = system roots)"),
    key("ELASTICSEARCH_API_KEY", Kind::Secret, "", "Elasticsearch API key (the encoded form); wins over a user"),
    key("ELASTICSEARCH_USERNAME", Kind::Text, "", "Elasticsearch user (with ELASTICSEARCH_PASSWORD)"),
    key("ELASTICSEARCH_PASSWORD", Kind::Secret, "", "Elasticsearch user's password"),
    key("ELASTICSEARCH_INDEX_PREFIX", Kind::IndexPrefix, "vuhitra", "prefix of Vuhitra's index and alias names"),
    key("ELASTICSEARCH_TIMEOUT", Kind::Int { min: 1, max: 600 }, "5", "seconds to connect to Elasticsearch"),
    key("SPARK_MASTER", Kind::ServiceUrl(&["spark", "sc"]), "", "Spark master (empty = embedded)"),
    key("SANDBOX_CONTAINER", Kind::Text, "", "sandbox container (empty = local sandbox)"),
    key("FRAME_CACHE_TTL", Kind::Duration, "1h", "how long a cached table (--cache-key) lives"),
    key(
        "DATA_IN_MEMORY_MAX",
        Kind::Size,
        "512MiB",
        "largest text file read into memory for analyze (larger ones stream)",
    ),
    key("RAG_COLLECTION", Kind::Text, "default", "RAG collection used when --collection is not given"),
    key("RAG_CHUNK_TOKENS", Kind::Int { min: 32, max: 8192 }, "256", "largest RAG chunk, in embedding-model tokens"),
    key("RAG_CHUNK_OVERLAP", Kind::Int { min: 0, max: 1024 }, "32", "tokens shared by consecutive chunks of a section"),
    key("RAG_TOP_K", Kind::Int { min: 1, max: 100 }, "5", "chunks a RAG search returns and an answer is given"),
    key("SANDBOX_TIMEOUT", Kind::Duration, "60s", "wall-clock limit of one sandboxed command"),
    key("SANDBOX_CPU_TIME", Kind::Duration, "60s", "CPU-time limit of one sandboxed command"),
    key("SANDBOX_MEMORY", Kind::Size, "1GiB", "address-space limit of one sandboxed command"),
    key("SANDBOX_MAX_PROCESSES", Kind::Int { min: 1, max: 4096 }, "64", "processes one sandboxed command may start"),
    key("SANDBOX_MAX_OUTPUT", Kind::Size, "1MiB", "stdout and stderr kept per sandboxed command"),
    key("MCP_CONFIG", Kind::Path, "", "MCP servers file (empty = mcp.json in the data directory)"),
    key("MCP_TIMEOUT", Kind::Duration, "30s", "deadline of one MCP request, a server's start-up included"),
    key("MAX_TOOL_ROUNDS", Kind::Int { min: 1, max: 100 }, "5", "tool-call rounds in one chat turn"),
    key(
        "MCP_MAX_RESULT_CHARS",
        Kind::Int { min: 100, max: 10_000_000 },
        "16000",
        "longest tool result given to a model",
    ),
    key("VUHITRA_HOME", Kind::Path, "", "data directory"),
    key("WORKSPACE_PATH", Kind::Path, "", "sandbox workspace"),
    key("LOG_LEVEL", Kind::LogLevel, "INFO", "log verbosity"),
    KeySpec {
        name: "ES_JAVA_OPTS",
        kind: Kind::Text,
        default: "-Xms512m -Xmx512m",
        help: "Elasticsearch JVM heap",
        scope: Scope::StackOnly,
    },
    KeySpec {
        name: "SPARK_WORKER_MEMORY",
        kind: Kind::Text,
        default: "2g",
        help: "Spark worker memory",
        scope: Scope::StackOnly,
    },
    KeySpec {
        name: "SPARK_WORKER_CORES",
        kind: Kind::Int { min: 1, max: 1024 },
        default: "2",
        help: "Spark worker cores",
        scope: Scope::StackOnly,
    },
];

pub fn spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    DotEnv { path: PathBuf, line: usize },
    Env,
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::DotEnv { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env => f.write_str("environment"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {key}={value:?} (from {origin}): expected {expected}")]
    Invalid { key: String, value: String, expected: String, origin: Origin },
    #[error("malformed line {line} in {path}: {text:?}")]
    MalformedDotEnv { path: PathBuf, line: usize, text: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("no data directory: set VUHITRA_HOME or pass --data-dir")]
    NoDataDir,
}

impl ConfigError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Invalid { origin: Origin::DotEnv { path, line }, .. } => {
                Some(format!("fix line {line} of {}, or run `vuhitra config validate`", path.display()))
            }
            ConfigError::Invalid { key, origin: Origin::Env, .. } => {
                Some(format!("fix or unset the environment variable {key}"))
            }
            ConfigError::MalformedDotEnv { .. } => Some("each line must be KEY=VALUE, a comment (#) or blank".into()),
            _ => None,
        }
    }
}

/// One key's raw value and where it came from.
#[derive(Debug, Clone)]
pub struct RawValue {
    pub value: String,
    pub origin: Origin,
}

/// Inputs to the loader; tests build this by hand instead of touching the
/// process environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// Flag overrides: key -> (value, flag name).
    pub flags: BTreeMap<String, (String, String)>,
    pub env: BTreeMap<String, String>,
    /// The `.env` file to read, if it exists.
    pub dotenv: Option<PathBuf>,
}

impl Sources {
    /// The real process: environment variables and `./.env`.
    pub fn from_process() -> Self {
        let env = std::env::vars().filter(|(k, _)| spec(k).is_some()).collect();
        Sources { flags: BTreeMap::new(), env, dotenv: Some(PathBuf::from(".env")) }
    }

    pub fn flag(mut self, key: &str, value: impl Into<String>, flag: &str) -> Self {
        self.flags.insert(key.to_string(), (value.into(), flag.to_string()));
        self
    }
}

/// Every key's raw value with its origin, before type checks. Its `Debug`
/// masks secrets, as everything printed must.
#[derive(Clone)]
pub struct RawConfig {
    pub values: BTreeMap<&'static str, RawValue>,
    /// Keys in `.env` that Vuhitra does not know (reported, not fatal).
    pub unknown_dotenv_keys: Vec<(String, usize)>,
}

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.values.keys().map(|&k| (k, self.shown(k)))).finish()
    }
}

impl RawConfig {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut dotenv = BTreeMap::new();
        let mut unknown = Vec::new();
        if let Some(path) = &sources.dotenv {
            if path.exists() {
                for (key, value, line) in read_dotenv(path)? {
                    if spec(&key).is_some() {
                        dotenv.insert(key, (value, line));
                    } else {
                        unknown.push((key, line));
                    }
                }
            }
        }
        let mut values = BTreeMap::new();
        for k in KEYS {
            // An empty value counts as unset, so `KEY=` in .env or the
            // environment means "the default" (for service URLs: embedded).
            let set = |v: &String| !v.trim().is_empty();
            let raw = if let Some((v, flag)) = sources.flags.get(k.name).filter(|(v, _)| set(v)) {
                RawValue { value: v.clone(), origin: Origin::Flag(flag.clone()) }
            } else if let Some(v) = sources.env.get(k.name).filter(|v| set(v)) {
                RawValue { value: v.clone(), origin: Origin::Env }
            } else if let Some((v, line)) = dotenv.get(k.name).filter(|(v, _)| set(v)) {
                let path = sources.dotenv.clone().unwrap_or_default();
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                RawValue { value: v.clone(), origin: Origin::DotEnv { path, line: *line } }
            } else {
                RawValue { value: k.default.to_string(), origin: Origin::Default }
            };
            values.insert(k.name, raw);
        }
        Ok(RawConfig { values, unknown_dotenv_keys: unknown })
    }

    fn raw(&self, key: &'static str) -> &RawValue {
        // Every key in KEYS is inserted by `load`.
        &self.values[key]
    }

    /// Type-check one key; every failure names key, value, expectation and origin.
    pub fn check(&self, key: &'static str) -> Result<Value, ConfigError> {
        let spec = spec(key).expect("key is in KEYS");
        let raw = self.raw(key);
        parse_value(spec.kind, raw.value.trim()).ok_or_else(|| ConfigError::Invalid {
            key: key.to_string(),
            value: self.shown(key),
            expected: spec.kind.expected(),
            origin: raw.origin.clone(),
        })
    }

    /// A key whose value passed its type check but not a rule about its
    /// meaning (or about another key).
    fn invalid(&self, key: &'static str, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            value: self.shown(key),
            expected: expected.into(),
            origin: self.raw(key).origin.clone(),
        }
    }

    /// A key's value as it may be printed: secrets as `****`, passwords in
    /// URLs masked.
    pub fn shown(&self, key: &'static str) -> String {
        let value = &self.raw(key).value;
        match spec(key).map(|s| s.kind) {
            Some(Kind::Secret) if !value.is_empty() => "****".into(),
            _ => mask_secrets(value),
        }
    }

    /// Every error, not just the first (for `config validate`).
    pub fn all_errors(&self) -> Vec<ConfigError> {
        KEYS.iter().filter_map(|k| self.check(k.name).err()).collect()
    }

    pub fn into_config(self) -> Result<Config, ConfigError> {
        let url = |k| match self.check(k)? {
            Value::Url(u) => Ok(u),
            _ => Ok(None),
        };
        let int = |k| match self.check(k)? {
            Value::Int(n) => Ok(n),
            _ => unreachable!("{k} is an integer key"),
        };
        let boolean = |k| match self.check(k)? {
            Value::Bool(b) => Ok(b),
            _ => unreachable!("{k} is a boolean key"),
        };
        let text = |k| match self.check(k)? {
            Value::Text(t) => Ok(t),
            _ => unreachable!("{k} is a text key"),
        };
        let path = |k| match self.check(k)? {
            Value::Path(p) => Ok(p),
            _ => unreachable!("{k} is a path key"),
        };
        let secret = |k| Ok::<_, ConfigError>(Some(text(k)?).filter(|t| !t.is_empty()).map(Secret::new));
        let mut ollama_url = match self.check("OLLAMA_IP")? {
            Value::Url(Some(u)) => u,
            _ => unreachable!("OLLAMA_IP always parses to a URL"),
        };
        let ollama_access = Access {
            url_key: "OLLAMA_IP",
            ca_cert: path("OLLAMA_CA_CERT")?,
            ca_key: "OLLAMA_CA_CERT",
            auth: take_credentials(&mut ollama_url).or(secret("OLLAMA_API_KEY")?.map(Auth::Bearer)),
            auth_keys: "OLLAMA_API_KEY",
        };
        let mut redis_url = url("REDIS_URL")?;
        let redis_access = Access {
            url_key: "REDIS_URL",
            ca_cert: path("REDIS_CA_CERT")?,
            ca_key: "REDIS_CA_CERT",
            auth: redis_url
                .as_mut()
                .and_then(take_credentials)
                .or(secret("REDIS_PASSWORD")?.map(|password| Auth::Password { username: String::new(), password })),
            auth_keys: "REDIS_PASSWORD (or the password in REDIS_URL)",
        };
        let mut elasticsearch_url = url("ELASTICSEARCH_URL")?;
        let in_url = elasticsearch_url.as_mut().and_then(take_credentials);
        let es_user = text("ELASTICSEARCH_USERNAME")?;
        let elasticsearch_access = Access {
            url_key: "ELASTICSEARCH_URL",
            ca_cert: path("ELASTICSEARCH_CA_CERT")?,
            ca_key: "ELASTICSEARCH_CA_CERT",
            auth: match (secret("ELASTICSEARCH_API_KEY")?, secret("ELASTICSEARCH_PASSWORD")?) {
                (Some(key), _) => Some(Auth::ApiKey(key)),
                (None, Some(password)) if !es_user.is_empty() => Some(Auth::Password { username: es_user, password }),
                _ => in_url,
            },
            auth_keys: "ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD",
        };
        let data_dir = match path("VUHITRA_HOME")? {
            Some(p) => p,
            None => dirs::data_dir().ok_or(ConfigError::NoDataDir)?.join("vuhitra"),
        };
        let workspace = path("WORKSPACE_PATH")?.unwrap_or_else(|| data_dir.join("workspace"));
        let mcp_config = path("MCP_CONFIG")?.unwrap_or_else(|| data_dir.join("mcp.json"));
        let log_level = match self.check("LOG_LEVEL")? {
            Value::LogLevel(l) => l,
            _ => unreachable!(),
        };
        let (chunk_tokens, chunk_overlap) = (int("RAG_CHUNK_TOKENS")?, int("RAG_CHUNK_OVERLAP")?);
        if chunk_overlap >= chunk_tokens {
            let expected = format!("fewer tokens than RAG_CHUNK_TOKENS ({chunk_tokens})");
            return Err(self.invalid("RAG_CHUNK_OVERLAP", expected));
        }
        Ok(Config {
            ollama_url,
            ollama_access,
            redis_access,
            elasticsearch_access,
            model: text("MODEL")?,
            ollama_connect_timeout_secs: int("OLLAMA_CONNECT_TIMEOUT")?,
            ollama_timeout_secs: int("OLLAMA_TIMEOUT")?,
            ollama_retries: int("OLLAMA_RETRIES")? as u32,
            max_context_file_size: int("MAX_CONTEXT_FILE_SIZE")?,
            max_uploaded_file_size: int("MAX_UPLOADED_FILE_SIZE")?,
            upload_ttl_secs: int("UPLOAD_TTL")?,
            max_iterations_dev: int("MAX_ITERATIONS_DEV")? as u32,
            max_iterations_prod: int("MAX_ITERATIONS_PROD")? as u32,
            enable_prompt_cache: boolean("ENABLE_PROMPT_CACHE")?,
            enable_heuristics: boolean("ENABLE_HEURISTICS")?,
            heuristics_retention_secs: int("HEURISTICS_RETENTION")?,
            prompt_signature: text("PROMPT_SIGNATURE")?,
            prompt_cache_ttl_secs: int("PROMPT_CACHE_TTL")?,
            prompt_cache_threshold: match self.check("PROMPT_CACHE_THRESHOLD")? {
                Value::Fraction(f) => f,
                _ => unreachable!("PROMPT_CACHE_THRESHOLD is a fraction key"),
            },
            embed_model: Some(text("EMBED_MODEL")?).filter(|m| !m.eq_ignore_ascii_case("none")),
            show_corrections: boolean("SHOW_CORRECTIONS")?,
            intent_models: INTENT_SETTINGS
                .iter()
                .map(|&(intent, k)| Ok((intent.to_string(), model_list(&text(k)?))))
                .filter(|r| !matches!(r, Ok((_, m)) if m.is_empty()))
                .collect::<Result<_, ConfigError>>()?,
            route_latency_budget_secs: int("ROUTE_LATENCY_BUDGET")?,
            elasticsearch_index_prefix: text("ELASTICSEARCH_INDEX_PREFIX")?,
            elasticsearch_timeout_secs: int("ELASTICSEARCH_TIMEOUT")?,
            redis_url,
            elasticsearch_url,
            spark_master: url("SPARK_MASTER")?,
            sandbox_container: Some(text("SANDBOX_CONTAINER")?).filter(|s| !s.is_empty()),
            frame_cache_ttl_secs: int("FRAME_CACHE_TTL")?,
            data_in_memory_max: int("DATA_IN_MEMORY_MAX")?,
            rag: RagSettings {
                collection: {
                    let name = text("RAG_COLLECTION")?;
                    check_collection_name(&name).map_err(|expected| self.invalid("RAG_COLLECTION", expected))?;
                    name
                },
                chunk_tokens: chunk_tokens as usize,
                chunk_overlap: chunk_overlap as usize,
                top_k: int("RAG_TOP_K")? as usize,
            },
            sandbox: SandboxLimits {
                timeout_secs: int("SANDBOX_TIMEOUT")?,
                cpu_secs: int("SANDBOX_CPU_TIME")?,
                memory_bytes: int("SANDBOX_MEMORY")?,
                max_processes: int("SANDBOX_MAX_PROCESSES")?,
                max_output_bytes: int("SANDBOX_MAX_OUTPUT")?,
            },
            mcp: McpSettings {
                config: mcp_config,
                timeout_secs: int("MCP_TIMEOUT")?,
                max_tool_rounds: int("MAX_TOOL_ROUNDS")? as u32,
                max_result_chars: int("MCP_MAX_RESULT_CHARS")? as usize,
            },
            data_dir,
            workspace,
            log_level,
            raw: self,
        })
    }
}

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(u64),
    Bool(bool),
    LogLevel(String),
    Url(Option<Url>),
    Path(Option<PathBuf>),
    Fraction(f64),
}

/// The intents that may have their own models, and the keys that name them.
pub const INTENT_SETTINGS: [(&str, &str); 5] = [
    ("code", "MODEL_CODE"),
    ("data_analysis", "MODEL_DATA"),
    ("explanation", "MODEL_EXPLANATION"),
    ("question", "MODEL_QUESTION"),
    ("chat", "MODEL_CHAT"),
];

/// The key that names an intent's models.
pub fn intent_setting(intent: &str) -> Option<&'static str> {
    INTENT_SETTINGS.iter().find(|(i, _)| *i == intent).map(|(_, k)| *k)
}

/// The distinct names in a comma-separated model list, in order.
fn model_list(v: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    out
}

fn parse_value(kind: Kind, v: &str) -> Option<Value> {
    match kind {
        Kind::OllamaAddress => parse_ollama_address(v).map(|u| Value::Url(Some(u))),
        Kind::Text | Kind::Secret => Some(Value::Text(v.to_string())),
        Kind::ModelList => {
            let names = model_list(v);
            let each_named = v.trim().is_empty() || names.len() == v.split(',').count();
            (each_named && names.iter().all(|n| !n.contains(char::is_whitespace))).then(|| Value::Text(v.to_string()))
        }
        Kind::Size => parse_size(v).map(Value::Int),
        Kind::Int { min, max } => v.parse::<u64>().ok().filter(|n| (min..=max).contains(n)).map(Value::Int),
        Kind::Bool => parse_bool(v).map(Value::Bool),
        Kind::LogLevel => {
            let up = v.to_ascii_uppercase();
            let up = if up == "WARNING" { "WARN".to_string() } else { up };
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&up.as_str()).then_some(Value::LogLevel(up))
        }
        Kind::ServiceUrl(schemes) => {
            if v.is_empty() {
                return Some(Value::Url(None));
            }
            let url = Url::parse(v).ok()?;
            (schemes.contains(&url.scheme()) && url.host_str().is_some_and(|h| !h.is_empty()))
                .then_some(Value::Url(Some(url)))
        }
        Kind::Path => Some(Value::Path((!v.is_empty()).then(|| expand_home(v)))),
        Kind::Choice(words) => {
            let lower = v.to_ascii_lowercase();
            words.contains(&lower.as_str()).then_some(Value::Text(lower))
        }
        Kind::Duration => parse_duration_secs(v).map(Value::Int),
        Kind::Lifetime if v.trim() == "0" => Some(Value::Int(0)),
        Kind::Lifetime => parse_duration_secs(v).map(Value::Int),
        Kind::Fraction => v.parse::<f64>().ok().filter(|f| (0.0..=1.0).contains(f)).map(Value::Fraction),
        Kind::IndexPrefix => {
            let ok = v.starts_with(|c: char| c.is_ascii_lowercase())
                && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                && v.len() <= 100;
            ok.then(|| Value::Text(v.to_string()))
        }
    }
}

/// `3600`, `90s`, `15m`, `1h`, `7d` → seconds.
pub fn parse_duration_secs(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&s| s > 0)
}

fn expand_home(v: &str) -> PathBuf {
    match (v.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(v),
    }
}

/// `OLLAMA_IP` is named like an address, so accept one: `10.0.0.5`,
/// `gpu-box:11434` and `http://gpu-box:11434` all work.
pub fn parse_ollama_address(v: &str) -> Option<Url> {
    if v.is_empty() {
        return None;
    }
    let with_scheme = if v.contains("://") { v.to_string() } else { format!("http://{v}") };
    let mut url = Url::parse(&with_scheme).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    if !v.contains("://") && url.port().is_none() {
        url.set_port(Some(11434)).ok()?;
    }
    Some(url)
}

pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Reads `.env` with dotenvy, adding the line each key was set on (dotenvy
/// reports values, not positions).
fn read_dotenv(path: &Path) -> Result<Vec<(String, String, usize)>, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let iter = dotenvy::from_path_iter(path)
        .map_err(|e| ConfigError::Read { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) })?;
    let mut out = Vec::new();
    for item in iter {
        match item {
            Ok((k, v)) => {
                let line = line_of_key(&text, &k).unwrap_or(0);
                out.push((k, v, line));
            }
            Err(dotenvy::Error::LineParse(bad, _)) => {
                let first = bad.lines().next().unwrap_or("").to_string();
                let line = text.lines().position(|l| l.trim_end() == first.trim_end()).map_or(0, |i| i + 1);
                return Err(ConfigError::MalformedDotEnv { path: abs(path), line, text: first });
            }
            Err(e) => {
                return Err(ConfigError::Read { path: abs(path), source: std::io::Error::other(e.to_string()) });
            }
        }
    }
    Ok(out)
}

fn abs(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The last line that assigns `key` (a later assignment wins, as in dotenvy).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").map_or(l, str::trim_start);
            l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
        .last()
}

/// The checked configuration every command runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Service URLs carry no credentials: those are moved to the matching
    /// `*_access`, so a URL can be printed as it is.
    pub ollama_url: Url,
    pub ollama_access: Access,
    pub redis_access: Access,
    pub elasticsearch_access: Access,
    pub model: String,
    pub ollama_connect_timeout_secs: u64,
    pub ollama_timeout_secs: u64,
    pub ollama_retries: u32,
    pub max_context_file_size: u64,
    pub max_uploaded_file_size: u64,
    /// Seconds an upload lives without `--ttl` or `--keep`; 0 = until removed.
    pub upload_ttl_secs: u64,
    pub max_iterations_dev: u32,
    pub max_iterations_prod: u32,
    pub enable_prompt_cache: bool,
    pub enable_heuristics: bool,
    /// Records older than this are deleted (once a day); 0 keeps them forever.
    pub heuristics_retention_secs: u64,
    /// `nlp` or `hash`.
    pub prompt_signature: String,
    pub prompt_cache_ttl_secs: u64,
    /// The combined similarity (0–1) a non-exact cache hit needs.
    pub prompt_cache_threshold: f64,
    /// None when EMBED_MODEL=none: similarity is then lexical only.
    pub embed_model: Option<String>,
    pub show_corrections: bool,
    /// Intent (as `vuhitra nlp` names it) → candidate models, in the
    /// order given, for the MODEL_<INTENT> keys that are set.
    pub intent_models: BTreeMap<String, Vec<String>>,
    /// ROUTE_LATENCY_BUDGET in seconds; 0: latency does not count.
    pub route_latency_budget_secs: u64,
    pub elasticsearch_index_prefix: String,
    /// Seconds to connect to Elasticsearch.
    pub elasticsearch_timeout_secs: u64,
    pub redis_url: Option<Url>,
    pub elasticsearch_url: Option<Url>,
    pub spark_master: Option<Url>,
    pub sandbox_container: Option<String>,
    pub sandbox: SandboxLimits,
    pub frame_cache_ttl_secs: u64,
    /// Text files up to this size are parsed once into memory by `analyze`.
    pub data_in_memory_max: u64,
    pub rag: RagSettings,
    pub mcp: McpSettings,
    pub data_dir: PathBuf,
    pub workspace: PathBuf,
    pub log_level: String,
    /// The raw layer, kept for `config show`.
    pub raw: RawConfig,
}

/// A RAG collection name, or what one must be: 1 to 64 letters, digits,
/// '.', '_' or '-', starting with a letter or digit (so it reads the same
/// in a table, a message, a file name and a Redis key).
pub fn check_collection_name(name: &str) -> Result<&str, String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if starts_well && name.len() <= 64 && name.chars().all(ok_char) {
        Ok(name)
    } else {
        Err("a collection name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit".into())
    }
}

/// RAG defaults (RAG_*): flags override each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RagSettings {
    pub collection: String,
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    pub top_k: usize,
}

/// MCP servers and tool calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSettings {
    /// The servers file (`mcpServers`), MCP_CONFIG or DATA_DIR/mcp.json.
    pub config: PathBuf,
    pub timeout_secs: u64,
    pub max_tool_rounds: u32,
    pub max_result_chars: usize,
}

/// Default limits of a sandboxed command (flags of `vuhitra run` override).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    pub timeout_secs: u64,
    pub cpu_secs: u64,
    pub memory_bytes: u64,
    pub max_processes: u64,
    pub max_output_bytes: u64,
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        RawConfig::load(sources)?.into_config()
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("vuhitra.db")
    }
}

/// Hides passwords in URLs (`redis://:secret@host` → `redis://:****@host`),
/// also in text that does not parse as a URL (an invalid value is printed
/// in its error).
pub fn mask_secrets(value: &str) -> String {
    let Some(start) = value.find("://").map(|i| i + 3) else { return value.to_string() };
    let authority_end = value[start..].find(['/', '?', '#']).map_or(value.len(), |i| start + i);
    let Some(at) = value[start..authority_end].rfind('@').map(|i| start + i) else { return value.to_string() };
    match value[start..at].find(':') {
        Some(colon) => format!("{}****{}", &value[..start + colon + 1], &value[at..]),
        None => value.to_string(),
    }
}

/// Moves the user and password out of a URL into credentials (a URL is
/// printed in messages; credentials never are).
fn take_credentials(url: &mut Url) -> Option<Auth> {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let username = decode(url.username());
    let password = url.password().map(decode);
    if username.is_empty() && password.is_none() {
        return None;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(Auth::Password { username, password: Secret::new(password.unwrap_or_default()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sources_with_dotenv(text: &str) -> (tempfile_dir::TempDir, Sources) {
        let dir = tempfile_dir::TempDir::new();
        let path = dir.path().join(".env");
        std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
        (dir, Sources { dotenv: Some(path), ..Default::default() })
    }

    /// A tiny temp dir so the core crate needs no dev-dependency.
    mod tempfile_dir {
        use std::path::{Path, PathBuf};
        pub struct TempDir(PathBuf);
        impl TempDir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "vuhitra-core-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                TempDir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let cfg =
            Config::load(&Sources { env: [("VUHITRA_HOME".into(), "/tmp/vh".into())].into(), ..Default::default() })
                .unwrap();
        assert_eq!(cfg.ollama_url.as_str(), "http://127.0.0.1:11434/");
        assert_eq!(cfg.model, "llama3:8b");
        assert_eq!(cfg.max_context_file_size, 10_485_760);
        assert_eq!(cfg.max_uploaded_file_size, 104_857_600);
        assert_eq!(cfg.max_iterations_dev, 50);
        assert_eq!(cfg.max_iterations_prod, 5);
        assert!(!cfg.enable_prompt_cache);
        assert!(cfg.enable_heuristics);
        assert!(cfg.redis_url.is_none() && cfg.elasticsearch_url.is_none() && cfg.spark_master.is_none());
        assert_eq!(cfg.workspace, PathBuf::from("/tmp/vh/workspace"));
        assert_eq!(cfg.raw.values["MODEL"].origin, Origin::Default);
    }

    #[test]
    fn precedence_is_flag_then_env_then_dotenv_then_default() {
        let (_d, mut s) = sources_with_dotenv("MODEL=from-dotenv\nLOG_LEVEL=debug\nMAX_ITERATIONS_DEV=7\n");
        s.env.insert("MODEL".into(), "from-env".into());
        s.env.insert("LOG_LEVEL".into(), "warn".into());
        let s = s.flag("MODEL", "from-flag", "--model");
        let raw = RawConfig::load(&s).unwrap();
        assert_eq!(raw.values["MODEL"].value, "from-flag");
        assert_eq!(raw.values["MODEL"].origin, Origin::Flag("--model".into()));
        assert_eq!(raw.values["LOG_LEVEL"].value, "warn");
        assert_eq!(raw.values["LOG_LEVEL"].origin, Origin::Env);
        assert_eq!(raw.values["MAX_ITERATIONS_DEV"].value, "7");
        assert!(matches!(raw.values["MAX_ITERATIONS_DEV"].origin, Origin::DotEnv { line: 3, .. }));
        assert_eq!(raw.values["MAX_ITERATIONS_PROD"].origin, Origin::Default);
    }

    #[test]
    fn bad_value_names_key_value_expectation_and_line() {
        let (_d, s) = sources_with_dotenv("# limits\nMODEL=x\nMAX_UPLOADED_FILE_SIZE=ten\n");
        let err = Config::load(&s).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("MAX_UPLOADED_FILE_SIZE"), "{msg}");
        assert!(msg.contains("\"ten\""), "{msg}");
        assert!(msg.contains("size in bytes"), "{msg}");
        assert!(msg.contains(".env:3"), "{msg}");
    }

    #[test]
    fn malformed_dotenv_line_is_reported_with_its_number() {
        let (_d, s) = sources_with_dotenv("MODEL=x\nTHIS IS NOT AN ASSIGNMENT\n");
        match RawConfig::load(&s).unwrap_err() {
            ConfigError::MalformedDotEnv { line, text, .. } => {
                assert_eq!(line, 2);
                assert!(text.contains("NOT AN ASSIGNMENT"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn all_errors_reports_every_bad_key() {
        let s = Sources {
            env: [
                ("MAX_ITERATIONS_DEV".to_string(), "0".to_string()),
                ("ENABLE_HEURISTICS".into(), "maybe".into()),
                ("REDIS_URL".into(), "http://wrong-scheme".into()),
            ]
            .into(),
            ..Default::default()
        };
        let errs = RawConfig::load(&s).unwrap().all_errors();
        let keys: Vec<String> = errs
            .iter()
            .map(|e| match e {
                ConfigError::Invalid { key, .. } => key.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(keys, ["MAX_ITERATIONS_DEV", "ENABLE_HEURISTICS", "REDIS_URL"]);
    }

    #[test]
    fn ollama_address_accepts_bare_hosts() {
        assert_eq!(parse_ollama_address("10.0.0.5").unwrap().as_str(), "http://10.0.0.5:11434/");
        assert_eq!(parse_ollama_address("gpu:8080").unwrap().as_str(), "http://gpu:8080/");
        assert_eq!(parse_ollama_address("https://o.example").unwrap().as_str(), "https://o.example/");
        assert!(parse_ollama_address("ftp://x").is_none());
        assert!(parse_ollama_address("").is_none());
        assert!(parse_ollama_address("http://").is_none());
    }

    #[test]
    fn sizes_take_units_and_reject_words() {
        assert_eq!(parse_size("10485760"), Some(10_485_760));
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("100 MB"), Some(100_000_000));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("-5"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("20000000000GiB"), None, "overflow must not wrap");
    }

    #[test]
    fn service_urls_check_scheme_and_empty_means_embedded() {
        assert_eq!(parse_value(spec("REDIS_URL").unwrap().kind, ""), Some(Value::Url(None)));
        assert!(parse_value(spec("REDIS_URL").unwrap().kind, "redis://localhost:6379").is_some());
        assert!(parse_value(spec("REDIS_URL").unwrap().kind, "localhost:6379").is_none());
        assert!(parse_value(spec("SPARK_MASTER").unwrap().kind, "spark://spark:7077").is_some());
        assert!(parse_value(spec("ELASTICSEARCH_URL").unwrap().kind, "elasticsearch:9200").is_none());
        assert!(parse_value(spec("ELASTICSEARCH_URL").unwrap().kind, "https://es:9200").is_some());
        assert!(parse_value(spec("REDIS_URL").unwrap().kind, "rediss://r:6380").is_some());
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask_secrets("redis://:hunter2@redis:6379"), "redis://:****@redis:6379");
        assert_eq!(mask_secrets("http://u:pw@es:9200/"), "http://u:****@es:9200/");
        assert_eq!(mask_secrets("llama3:8b"), "llama3:8b");
        // Also in a value too broken to parse (it is printed in its error).
        assert_eq!(mask_secrets("rediss://:p@ss:w0rd@host:port-x/0"), "rediss://:****@host:port-x/0");
        assert_eq!(mask_secrets("http://user@es:9200/a@b"), "http://user@es:9200/a@b");
    }

    fn load_env(vars: &[(&str, &str)]) -> Config {
        let mut env: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("VUHITRA_HOME".into(), "/tmp/vh".into());
        Config::load(&Sources { env, ..Default::default() }).unwrap()
    }

    #[test]
    fn credentials_move_out_of_urls_and_the_keys_fill_in() {
        let c = load_env(&[
            ("REDIS_URL", "rediss://:s%40cret@r.example:6380/2"),
            ("REDIS_PASSWORD", "ignored-when-the-url-has-one"),
            ("ELASTICSEARCH_URL", "https://ana:pw@es.example:9200"),
            ("OLLAMA_IP", "https://o.example"),
            ("OLLAMA_API_KEY", "tok"),
            ("OLLAMA_CA_CERT", "/etc/ca.pem"),
        ]);
        assert_eq!(c.redis_url.as_ref().unwrap().as_str(), "rediss://r.example:6380/2");
        assert_eq!(
            c.redis_access.auth,
            Some(Auth::Password { username: String::new(), password: Secret::new("s@cret") }),
            "percent-decoded"
        );
        assert_eq!(c.elasticsearch_url.as_ref().unwrap().as_str(), "https://es.example:9200/");
        assert_eq!(
            c.elasticsearch_access.auth,
            Some(Auth::Password { username: "ana".into(), password: Secret::new("pw") })
        );
        assert_eq!(c.ollama_access.auth, Some(Auth::Bearer(Secret::new("tok"))));
        assert_eq!(c.ollama_access.ca_cert.as_deref(), Some(Path::new("/etc/ca.pem")));

        let c = load_env(&[
            ("REDIS_URL", "redis://r.example"),
            ("REDIS_PASSWORD", "pw"),
            ("ELASTICSEARCH_URL", "https://u:p@es.example"),
            ("ELASTICSEARCH_API_KEY", "a2V5"),
        ]);
        assert_eq!(c.redis_access.auth, Some(Auth::Password { username: String::new(), password: Secret::new("pw") }));
        assert_eq!(c.elasticsearch_access.auth, Some(Auth::ApiKey(Secret::new("a2V5"))), "an API key wins");
        assert_eq!(load_env(&[]).elasticsearch_access.auth, None);
    }

    #[test]
    fn secrets_never_print() {
        let c = load_env(&[
            ("ELASTICSEARCH_PASSWORD", "hunter2"),
            ("ELASTICSEARCH_USERNAME", "u"),
            ("REDIS_URL", "redis://:pw9@r"),
        ]);
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("pw9"), "{debug}");
        assert_eq!(c.raw.shown("ELASTICSEARCH_PASSWORD"), "****");
        assert_eq!(c.raw.shown("ELASTICSEARCH_API_KEY"), "", "an unset secret shows as unset");
        assert_eq!(c.raw.shown("REDIS_URL"), "redis://:****@r");
    }

    #[test]
    fn template_documents_exactly_the_known_keys() {
        let (_d, s) = sources_with_dotenv(ENV_TEMPLATE);
        let raw = RawConfig::load(&s).unwrap();
        assert!(raw.unknown_dotenv_keys.is_empty(), "template has unknown keys: {:?}", raw.unknown_dotenv_keys);
        let entries: BTreeMap<String, String> =
            read_dotenv(s.dotenv.as_ref().unwrap()).unwrap().into_iter().map(|(k, v, _)| (k, v)).collect();
        for k in KEYS {
            let v = entries.get(k.name).unwrap_or_else(|| panic!("{} missing from .env.template", k.name));
            // Empty means "the default" (OLLAMA_IP differs between host and stack).
            assert!(
                v.is_empty() || v == k.default,
                "template value for {} ({v}) differs from the built-in default",
                k.name
            );
        }
        assert!(raw.all_errors().is_empty(), "the template itself must validate");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let (_d, mut s) = sources_with_dotenv("MODEL=from-dotenv\nOLLAMA_IP=\n");
        s.env.insert("MODEL".into(), "  ".into());
        let raw = RawConfig::load(&s).unwrap();
        assert_eq!(raw.values["MODEL"].value, "from-dotenv");
        assert_eq!(raw.values["OLLAMA_IP"].origin, Origin::Default);
    }

    #[test]
    fn unknown_dotenv_keys_are_listed_not_fatal() {
        let (_d, s) = sources_with_dotenv("MODLE=typo\n");
        let raw = RawConfig::load(&s).unwrap();
        assert_eq!(raw.unknown_dotenv_keys, vec![("MODLE".to_string(), 1)]);
    }
}
