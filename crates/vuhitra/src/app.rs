//! The context every command runs with: checked configuration, output mode,
//! Ctrl-C, and the one place that builds services from the configuration,
//! each only when a command asks for it: the store, the model client, the
//! heuristics/cache backend, the frame cache, the sandbox executor.

use std::sync::OnceLock;
use std::time::Duration;

use vuhitra_core::{Config, Sources};
use vuhitra_llm::{ClientSettings, OllamaClient};
use vuhitra_pipeline::{CancellationToken, Intel, IntelSettings, Interrupt, Pipeline};
use vuhitra_store::Store;

use crate::cli::{Cli, Command};

pub struct App {
    pub config: Config,
    pub json: bool,
    interrupt: OnceLock<Interrupt>,
    /// The embedded store, opened on first use; every later use shares it.
    store: OnceLock<Store>,
}

/// Flags that override configuration keys, layered over the process's
/// environment and `./.env`.
pub fn sources(cli: &Cli) -> Sources {
    let mut s = Sources::from_process();
    if let Some(level) = &cli.log_level {
        s = s.flag("LOG_LEVEL", level.clone(), "--log-level");
    }
    if let Some(dir) = &cli.data_dir {
        s = s.flag("VUHITRA_HOME", dir.display().to_string(), "--data-dir");
    }
    if let Command::Chat(args) = &cli.command {
        if let Some(model) = &args.model {
            s = s.flag("MODEL", model.clone(), "--model");
        }
    }
    s
}

impl App {
    pub fn load(cli: &Cli) -> anyhow::Result<App> {
        let config = Config::load(&sources(cli))?;
        init_logging(&config.log_level);
        Ok(App { config, json: cli.json, interrupt: OnceLock::new(), store: OnceLock::new() })
    }

    /// The same configuration for work that must not print (a server's
    /// tools, whose stdout is the protocol): JSON mode, no Ctrl-C listener.
    pub fn detached(&self) -> App {
        App { config: self.config.clone(), json: true, interrupt: OnceLock::new(), store: OnceLock::new() }
    }

    /// The token the current piece of work watches. The first call starts
    /// the Ctrl-C listener on `rt`; commands that never ask keep the default
    /// (Ctrl-C ends the process).
    pub fn cancel_token(&self, rt: &tokio::runtime::Handle) -> CancellationToken {
        self.interrupt.get_or_init(|| Interrupt::listen(rt)).token()
    }

    /// The frame cache (Redis or embedded).
    pub async fn frames(&self) -> anyhow::Result<vuhitra_store::frames::FrameBackend> {
        let redis = self.config.redis_url.as_ref().map(|u| (u, &self.config.redis_access));
        Ok(vuhitra_store::frames::FrameBackend::open(redis, || self.open_store()).await?)
    }

    /// The RAG vector store (Redis or embedded). The Redis backend keeps
    /// its local mirrors in the data directory.
    pub async fn vectors(&self) -> anyhow::Result<vuhitra_store::vectors::VectorBackend> {
        use vuhitra_store::vectors::{RedisVectors, SqliteVectors, VectorBackend};
        Ok(match &self.config.redis_url {
            Some(url) => {
                let mirrors = self.config.data_dir.join("rag-mirror");
                VectorBackend::Redis(RedisVectors::connect(url, &self.config.redis_access, "vuhitra", mirrors).await?)
            }
            None => VectorBackend::Embedded(SqliteVectors::new(self.open_store()?)),
        })
    }

    /// The sandbox executor: the container named by SANDBOX_CONTAINER, or a
    /// confined local process.
    pub fn executor(&self) -> anyhow::Result<vuhitra_sandbox::AnyExecutor> {
        Ok(match &self.config.sandbox_container {
            Some(c) => vuhitra_sandbox::AnyExecutor::Docker(vuhitra_sandbox::docker::DockerExecutor {
                container: c.clone(),
                socket: vuhitra_sandbox::docker::docker_socket(),
            }),
            None => {
                vuhitra_sandbox::AnyExecutor::Local(vuhitra_sandbox::LocalExecutor { helper: std::env::current_exe()? })
            }
        })
    }

    /// What a sandboxed command gets: the configured limits, no network,
    /// and `sub` (a directory inside the workspace) as its working directory,
    /// as the executor sees it (the container mounts the workspace at /workspace).
    pub fn sandbox_spec(&self, ws: &vuhitra_sandbox::Workspace, sub: &std::path::Path) -> vuhitra_sandbox::RunSpec {
        let limits = self.config.sandbox;
        let root = if self.config.sandbox_container.is_some() { "/workspace".as_ref() } else { ws.root() };
        vuhitra_sandbox::RunSpec {
            program: String::new(),
            args: Vec::new(),
            workdir: if sub.as_os_str().is_empty() { root.to_path_buf() } else { root.join(sub) },
            timeout: Duration::from_secs(limits.timeout_secs),
            cpu_seconds: limits.cpu_secs,
            memory_bytes: limits.memory_bytes,
            file_size_bytes: self.config.max_uploaded_file_size,
            max_processes: limits.max_processes,
            output_cap: limits.max_output_bytes as usize,
            network: false,
        }
    }

    /// The heuristics and prompt-cache backend (Elasticsearch or embedded).
    pub async fn intel(&self) -> anyhow::Result<Intel> {
        Ok(Intel::open(&self.intel_settings()?, crate::output::warn).await?)
    }

    /// The prompt pipeline, its heuristics and cache backend on this
    /// process's store.
    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        let mut pipeline = Pipeline::new(&self.config, crate::output::warn);
        pipeline.intel_settings = self.intel_settings()?;
        Ok(pipeline)
    }

    fn intel_settings(&self) -> anyhow::Result<IntelSettings> {
        Ok(IntelSettings { store: Some(self.store()?), ..IntelSettings::from_config(&self.config) })
    }

    pub fn ollama(&self) -> OllamaClient {
        self.ollama_with_retries(self.config.ollama_retries)
    }

    /// A client that gives up sooner; probes want an answer, not patience.
    pub fn ollama_with_retries(&self, retries: u32) -> OllamaClient {
        OllamaClient::new(ClientSettings {
            base_url: self.config.ollama_url.clone(),
            connect_timeout: Duration::from_secs(self.config.ollama_connect_timeout_secs),
            timeout: Duration::from_secs(self.config.ollama_timeout_secs),
            retries,
            access: self.config.ollama_access.clone(),
        })
    }

    /// The embedded store (a handle on the process's one connection).
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(self.open_store()?)
    }

    fn open_store(&self) -> Result<Store, vuhitra_store::StoreError> {
        if let Some(store) = self.store.get() {
            return Ok(store.clone());
        }
        let store = Store::open(&self.config.store_path())?;
        Ok(self.store.get_or_init(|| store).clone())
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,vuhitra={0},vuhitra_llm={0},vuhitra_core={0},vuhitra_store={0},vuhitra_data={0},vuhitra_mcp={0},vuhitra_rag={0}",
        level.to_ascii_lowercase()
    ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}
