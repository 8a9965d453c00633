//! Command-line definitions. Help text, completions and parsing all come
//! from these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  vuhitra chat \"Explain Rust lifetimes in two sentences\"
  cat notes.md | vuhitra chat \"summarize this\"
  vuhitra chat -f src/main.rs \"what does this do?\"
  vuhitra chat --session work          (REPL that remembers, /help inside)
  vuhitra models pull gemma3:270m
  vuhitra doctor

Configuration comes from flags, then the environment, then ./.env, then
defaults; `vuhitra config show` tells where each value came from and
`vuhitra config init` writes a documented .env.";

#[derive(Debug, Parser)]
#[command(
    name = "vuhitra",
    version,
    about = "A local-first AI workbench: chat with local models served by Ollama, keep sessions, attach files.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Log verbosity on stderr (overrides LOG_LEVEL).
    #[arg(long, global = true, value_name = "LEVEL", ignore_case = true, value_parser = ["trace", "debug", "info", "warn", "error"])]
    pub log_level: Option<String>,

    /// Where Vuhitra keeps its store and history (overrides VUHITRA_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Chat with a model: one-shot with a prompt, a REPL without one.
    #[command(after_help = CHAT_HELP)]
    Chat(ChatArgs),
    /// List, pull, inspect and remove models on the Ollama server.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Saved conversations.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Show, check and create configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Rate an answer 0-5 (the last one when no ID is given), optionally with a correction.
    #[command(after_help = RATE_HELP)]
    Rate(RateArgs),
    /// What was asked, how it went, and what users thought of it.
    #[command(subcommand)]
    Heuristics(HeuristicsCommand),
    /// The similarity prompt cache (ENABLE_PROMPT_CACHE).
    #[command(subcommand, after_help = CACHE_HELP)]
    Cache(CacheCommand),
    /// Copy files into the sandbox workspace (size-limited, registered with checksum and type).
    #[command(after_help = UPLOAD_HELP)]
    Upload(UploadArgs),
    /// Files in the sandbox workspace.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Run a script or a command in the sandbox, with limits and no network.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Dev mode: the model writes code, the sandbox runs it and its tests, failures go back to the model.
    #[command(after_help = DEV_HELP, args_conflicts_with_subcommands = true)]
    Dev(DevArgs),
    /// Profile a data file: types, nulls, distinct values, statistics, top values, histograms, correlations.
    #[command(after_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Tables kept in the frame cache (Redis when REDIS_URL is set, else embedded).
    #[command(subcommand)]
    Data(DataCommand),
    /// Run SQL over data files (DataFusion).
    #[command(after_help = SQL_HELP)]
    Sql(SqlArgs),
    /// Documents as a knowledge base: ingest them, search them, and get answers that cite them.
    #[command(subcommand, after_help = RAG_HELP)]
    Rag(RagCommand),
    /// MCP servers: configure them, list and call their tools, or serve Vuhitra's own data tools.
    #[command(after_help = MCP_HELP)]
    Mcp(McpArgs),
    /// Analyse a prompt: intent, entities, sentiment, key phrases, signature.
    #[command(visible_alias = "analyze-prompt", after_help = NLP_HELP)]
    Nlp {
        /// The text (words are joined); piped stdin is read when it is omitted.
        text: Vec<String>,
    },
    /// Version, configuration summary, and which backend each part uses.
    Info,
    /// The version (as --version); with --json also the features this build has.
    Version,
    /// Check every configured service: reachable, version, latency.
    Doctor,
    /// Print a shell completion script.
    #[command(after_help = "Example: vuhitra completions bash > ~/.local/share/bash-completion/completions/vuhitra")]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
}

const NLP_HELP: &str = "\
Every prompt goes through this analysis. Sentiment is VADER (the same scores as
the Python package vaderSentiment 3.3.2); the signature identifies a prompt by
its normalised content words (PROMPT_SIGNATURE=nlp, so rewordings match) or
its exact text (PROMPT_SIGNATURE=hash).

Example: vuhitra nlp --json \"How do I sort a list in Python?\"";

const CHAT_HELP: &str = "\
Keywords in the prompt are taken out of the text and acted on:
  @file:PATH    attach a file as context (quote paths with spaces: @file:\"a b.txt\")
  @cache        answer from / store in the prompt cache even when ENABLE_PROMPT_CACHE is off
  @nocache      neither look up nor store this prompt in the cache
  @analyze      a question about data files (@file:/-f: CSV, TSV, JSON, Parquet, Excel,
                workspace files, cache:KEY): the model writes one read-only SELECT,
                which runs on DataFusion; you get the SQL, the rows and a sentence.
                Example: vuhitra chat \"@analyze @file:sales.csv top 3 regions by amount\"
  @upload       copy the @file:/-f files into the workspace (MAX_UPLOADED_FILE_SIZE) first;
                alone, without a question, it only uploads
  @devmode      dev mode with the rest of the prompt as the task (see `vuhitra dev --help`):
                the model writes files, the sandbox runs them, failures go back
  @spark        reserved for a feature still to come; using it stops with a message.
  @tools        offer the MCP servers' tools to the model for this prompt (as --tools)

Every answer is recorded in heuristics (ENABLE_HEURISTICS) with an id:
rate it with `vuhitra rate ID 0-5` (or /rate in the REPL).

On a terminal, answers are rendered as Markdown while they stream: headings,
emphasis, lists, block quotes, tables and fenced code with syntax highlighting.
Colours follow NO_COLOR (attributes only) and TERM (dumb: none at all).
Piped, or with --raw, the answer is the model's text exactly as written.

Piped stdin becomes context: `git diff | vuhitra chat \"review this\"`.
Without a prompt on a terminal, chat opens a REPL; type /help there.";

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt (words are joined); omit it for the REPL.
    pub prompt: Vec<String>,
    /// Model to use (overrides MODEL).
    #[arg(short, long)]
    pub model: Option<String>,
    /// System prompt.
    #[arg(short, long)]
    pub system: Option<String>,
    /// Sampling temperature, 0 for the most deterministic answers.
    #[arg(short, long, value_parser = parse_temperature)]
    pub temperature: Option<f32>,
    /// Random seed, for repeatable answers.
    #[arg(long)]
    pub seed: Option<i64>,
    /// Attach a file as context (repeatable); checked against MAX_CONTEXT_FILE_SIZE.
    #[arg(short, long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Continue (or start) a saved session.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// Most tokens to generate.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<i32>,
    /// Offer the enabled MCP servers' tools to the model (it must support tools);
    /// each call is shown and needs a yes unless --yes or the server's allow-list.
    #[arg(long)]
    pub tools: bool,
    /// Run tool calls without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The MCP servers file (overrides MCP_CONFIG).
    #[arg(long, value_name = "PATH")]
    pub mcp_config: Option<PathBuf>,
    /// Stream the answer as it is written (the default).
    #[arg(long, overrides_with = "no_stream")]
    pub stream: bool,
    /// Print the whole answer at once, when it is done (the last of --stream
    /// and --no-stream wins).
    #[arg(long, overrides_with = "stream")]
    pub no_stream: bool,
    /// Print answers exactly as the model wrote them (Markdown source),
    /// not rendered; the default when stdout is not a terminal.
    #[arg(long)]
    pub raw: bool,
    /// Answer from this RAG collection: each prompt gets the chunks that
    /// match it as numbered sources, and the answer cites them (/rag NAME in the REPL).
    #[arg(long, value_name = "COLLECTION", value_parser = collection_name)]
    pub rag: Option<String>,
}

const MCP_HELP: &str = "\
Servers live in mcp.json in the data directory (MCP_CONFIG or --mcp-config to
use another), in the `mcpServers` shape other MCP clients use, so a file from
one of them works as it is:

  {\"mcpServers\": {
     \"fs\":   {\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/data\"]},
     \"time\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\"], \"allow\": [\"get_current_time\"]},
     \"web\":  {\"url\": \"http://127.0.0.1:8000/mcp\", \"headers\": {\"Authorization\": \"Bearer …\"}}}}

Each entry: command, args, env, cwd (stdio), or url, headers (streamable
HTTP); `enabled` (or `disabled`) and `allow` (or `autoApprove`), the tools a
model may call without asking (\"*\" for all). Unknown keys are kept.

Examples:
  vuhitra mcp add time -- uvx mcp-server-time
  vuhitra mcp list                       (starts each enabled server: version, capabilities, tools)
  vuhitra mcp tools time --json          (with input schemas)
  vuhitra mcp call time get_current_time --args '{\"timezone\": \"Asia/Tokyo\"}'
  vuhitra chat --tools \"what time is it in Tokyo?\"
  vuhitra mcp serve                      (Vuhitra's read-only data tools, for other MCP clients)

A request waits MCP_TIMEOUT (30s) at most; a server's stderr is kept, not shown,
and quoted when it fails.";

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The MCP servers file (overrides MCP_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub mcp_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start each enabled server and show its protocol version, capabilities and tool count, or its error.
    List {
        /// Only print the configuration; start nothing.
        #[arg(long)]
        no_start: bool,
    },
    /// Add (or replace) a server: `vuhitra mcp add NAME -- COMMAND ARGS...`, or `--url URL`.
    #[command(
        after_help = "Examples:\n  vuhitra mcp add fs -- npx -y @modelcontextprotocol/server-filesystem ~/data\n  vuhitra mcp add time --allow get_current_time -- uvx mcp-server-time\n  vuhitra mcp add remote --url http://127.0.0.1:8000/mcp --header 'Authorization: Bearer T'"
    )]
    Add {
        name: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// A streamable HTTP endpoint instead of a command.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// An HTTP header for --url, as 'Name: value' (repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE", requires = "url")]
        headers: Vec<String>,
        /// An environment variable for the server, KEY=VALUE (repeatable).
        #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The directory the server starts in.
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// A tool a model may call without asking (repeatable; \"*\" for all).
        #[arg(long = "allow", value_name = "TOOL")]
        allow: Vec<String>,
        /// Add it switched off.
        #[arg(long)]
        disabled: bool,
        /// Replace a server of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Remove a server from the file.
    #[command(visible_alias = "remove")]
    Rm { name: String },
    /// Switch a server on.
    Enable { name: String },
    /// Switch a server off (it stays in the file).
    Disable { name: String },
    /// The tools of every enabled server, or of one (`--json` gives the input schemas).
    Tools { server: Option<String> },
    /// Call a tool; the arguments are checked against its input schema first.
    #[command(
        after_help = "Example: vuhitra mcp call time get_current_time --args '{\"timezone\": \"UTC\"}'\n\nExit status: 0 for a result, 1 when the tool reports an error (isError) or the call fails, 2 for arguments that do not fit."
    )]
    Call {
        server: String,
        tool: String,
        /// The arguments, a JSON object (`-` reads it from stdin).
        #[arg(long, short = 'a', value_name = "JSON")]
        args: Option<String>,
    },
    /// A server's resources.
    Resources { server: String },
    /// Read one resource.
    Read { server: String, uri: String },
    /// A server's prompts and their arguments.
    Prompts { server: String },
    /// Get one prompt with its arguments filled in.
    Get {
        server: String,
        name: String,
        /// The prompt's arguments, a JSON object of strings.
        #[arg(long, short = 'a', value_name = "JSON")]
        args: Option<String>,
    },
    /// Serve Vuhitra's read-only data tools over stdio (sql, analyze, files_list) to other MCP clients.
    #[command(after_help = SERVE_HELP)]
    Serve,
}

const SERVE_HELP: &str = "\
Add it to any MCP client; for example, in its mcpServers:

  \"vuhitra\": {\"command\": \"vuhitra\", \"args\": [\"mcp\", \"serve\"]}

The tools work on the files in the sandbox workspace (`vuhitra upload`), and
only on those:
  sql         one read-only SELECT (checked before it runs; DDL, DML and COPY are refused)
  analyze     a file's profile: types, nulls, distinct values, statistics, top values
  files_list  the workspace's files with size, type and checksum
Nothing a tool does writes data. Errors come back as tool errors (isError).";

fn parse_temperature(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(t) if (0.0..=2.0).contains(&t) => Ok(t),
        _ => Err("expected a number from 0 to 2".into()),
    }
}

const RATE_HELP: &str = "\
Examples:
  vuhitra rate 4                          rate the last answer 4/5
  vuhitra rate 01933a 1 --correction \"use sorted(), it returns a new list\"

A correction on an answer rated 2 or lower is shown to the model the next time
a similar prompt comes (SHOW_CORRECTIONS).";

const CACHE_HELP: &str = "\
A prompt is answered from the cache when an entry has the same signature, or is
similar enough (PROMPT_CACHE_THRESHOLD: embedding cosine with EMBED_MODEL blended
with word overlap), and also has the same model, system prompt, temperature class,
context files and conversation so far, and the same numbers, names and negation.
Entries live PROMPT_CACHE_TTL. `@cache` and `@nocache` in a prompt override.

Example: vuhitra cache eval bench/cache-pairs.jsonl --threshold 0.75";

const UPLOAD_HELP: &str = "\
Examples:
  vuhitra upload sales.csv notes.md
  vuhitra upload big.parquet --ttl 1h       (removed by the first command after an hour)
  vuhitra upload reference.csv --keep       (no expiry; without --ttl or --keep: UPLOAD_TTL, 24h)
  vuhitra upload ~/Downloads/export.csv --as q3.csv

The size limit (MAX_UPLOADED_FILE_SIZE) applies to the bytes read. Symbolic
links, directories and devices are refused; names are single, visible file names.";

const RUN_HELP: &str = "\
Examples:
  vuhitra run job.py                      (a workspace file, or a local file uploaded first)
  vuhitra run job.py --rows 10            (arguments after the file go to the script)
  vuhitra run -- python3 -c 'print(6*7)'
  vuhitra run --timeout 5m --memory 2GiB -- ./build.sh

The command runs in the workspace with a scrubbed environment, no network
(unless --network), and limits on time (SANDBOX_TIMEOUT), CPU (SANDBOX_CPU_TIME),
memory (SANDBOX_MEMORY), file size (MAX_UPLOADED_FILE_SIZE), processes
(SANDBOX_MAX_PROCESSES) and kept output (SANDBOX_MAX_OUTPUT). Locally it can
write only inside the workspace (Landlock). With SANDBOX_CONTAINER set it runs
in that container through the Docker API.";

const ANALYZE_HELP: &str = "\
Examples:
  vuhitra analyze sales.csv                 (a local file or a workspace file)
  vuhitra analyze report.xlsx --sheet Q3
  vuhitra analyze --upload export.csv --cleanup   (upload, profile, delete)
  vuhitra analyze events.ndjson --json
  vuhitra analyze sales.csv --ask \"which region sold the most?\"
  vuhitra analyze sales.csv --cache-key sales    (then: vuhitra analyze cache:sales)
  vuhitra analyze sales.csv --report sales.html  (charts, one self-contained page)

CSV and TSV files get their delimiter, header row and encoding (UTF-8 or
Latin-1) detected. A text file up to DATA_IN_MEMORY_MAX (512MiB) is parsed
once into memory; a larger one is streamed pass by pass, so files larger
than memory work in bounded memory. Distinct counts and quartiles are exact
for data in memory and for Parquet files up to 2M rows; for streamed data
they are sketches, marked ≈ (\"approximate\": true in --json).";

const SQL_HELP: &str = "\
Examples:
  vuhitra sql \"SELECT region, sum(amount) FROM sales GROUP BY region\" --table data/sales.csv
  vuhitra sql \"SELECT * FROM s LIMIT 5\" --table s=data/sales-2024.csv
  vuhitra sql \"SELECT * FROM sales\" --out sales.parquet

A file's name (without extension) is its table name; workspace files are
tables too. Output: a table on a terminal, or --format csv|json|parquet
(parquet needs --out; --out picks the format from its extension).

Read-only by default: statements that create, change or write data or files
(CREATE, DROP, INSERT, COPY … TO, SET) are refused unless --write is given.";

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The file: a path, the name of a workspace file, or cache:KEY.
    #[arg(value_name = "FILE", required_unless_present = "upload")]
    pub file: Option<PathBuf>,
    /// Upload this file into the workspace first, and profile that copy.
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub upload: Option<PathBuf>,
    /// With --upload: delete the uploaded copy afterwards.
    #[arg(long, requires = "upload")]
    pub cleanup: bool,
    /// The sheet of an Excel workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The format, when the content and extension do not tell.
    #[arg(long, value_parser = ["csv", "tsv", "json", "ndjson", "parquet", "excel"])]
    pub format: Option<String>,
    /// Answer a question about the file: the model writes SQL, which must be one read-only
    /// SELECT; it runs on DataFusion, and errors go back to the model (MAX_ITERATIONS_PROD tries).
    #[arg(long, value_name = "QUESTION")]
    pub ask: Option<String>,
    /// The model that writes the SQL (default: MODEL_DATA, else MODEL).
    #[arg(short, long)]
    pub model: Option<String>,
    /// Also keep the loaded table in the frame cache under KEY (FRAME_CACHE_TTL);
    /// later commands read it as cache:KEY.
    #[arg(long, value_name = "KEY")]
    pub cache_key: Option<String>,
    /// Also write the profile as a self-contained HTML page with charts (no scripts,
    /// no external files: it opens offline and can be shared as is).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Cached tables with rows, columns, size and expiry.
    #[command(alias = "ls")]
    List,
    /// Print a cached table.
    Get {
        key: String,
        #[arg(long, value_parser = ["table", "csv", "json"], default_value = "table")]
        format: String,
        /// At most this many rows.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
    /// Remove a cached table.
    #[command(alias = "rm")]
    Drop { key: String },
}

/// A collection name as clap checks it (`config::check_collection_name`).
pub fn collection_name(name: &str) -> Result<String, String> {
    vuhitra_core::config::check_collection_name(name).map(str::to_string)
}

const RAG_HELP: &str = "\
Files are loaded by type (text, Markdown, source code, HTML, PDF text, CSV
rows), cut into chunks along their structure (headings, paragraphs, code
blocks; RAG_CHUNK_TOKENS with RAG_CHUNK_OVERLAP), embedded with EMBED_MODEL
through Ollama, and kept in Redis when REDIS_URL is set, else in the
embedded store. A file whose content has not changed is skipped, so running
ingest again only does the new work, and an interrupted ingest resumes.

Search is hybrid: vector similarity and BM25 keyword ranking, fused by
reciprocal rank (--mode vector|bm25 to see one alone). Answers get the best
chunks as numbered sources and cite them as [n]; a citation of a source that
was never given is flagged, and so is an answer that cites nothing.

Examples:
  vuhitra rag ingest docs/ --collection handbook --glob '*.md'
  vuhitra rag search \"how do I rotate the logs\" --collection handbook
  vuhitra rag query \"how do I rotate the logs?\" --collection handbook
  vuhitra chat --rag handbook          (REPL; /rag NAME switches, /rag off stops)
  vuhitra rag stats handbook";

#[derive(Debug, Subcommand)]
pub enum RagCommand {
    /// Load, chunk, embed and store files and directories (unchanged files are skipped).
    Ingest(RagIngestArgs),
    /// The chunks that best match a query, with scores, file and line range.
    Search(RagSearchArgs),
    /// Answer a question from a collection, citing its chunks as [n].
    Query(RagQueryArgs),
    /// Collections with their model, files and chunks.
    #[command(alias = "ls")]
    List,
    /// One collection: its model, version, and every file with its chunks.
    Stats {
        /// The collection (RAG_COLLECTION when omitted).
        #[arg(value_parser = collection_name)]
        collection: Option<String>,
    },
    /// Delete a collection, or only some of its files with --file.
    #[command(alias = "rm")]
    Delete {
        /// The collection to delete (all of it, unless --file is given).
        #[arg(value_parser = collection_name)]
        collection: String,
        /// Remove only this file (as `rag stats` lists it, or a path to it); repeatable.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<String>,
    },
    /// Re-embed every chunk of a collection with EMBED_MODEL (after changing the model).
    Reindex {
        /// The collection (RAG_COLLECTION when omitted).
        #[arg(value_parser = collection_name)]
        collection: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RagIngestArgs {
    /// Files and directories (directories are walked; hidden entries are skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The collection to add to (RAG_COLLECTION when omitted; created on first use).
    #[arg(short, long, value_name = "NAME", value_parser = collection_name)]
    pub collection: Option<String>,
    /// Only files matching this pattern (e.g. '*.md', 'guide/**/*.html').
    #[arg(short, long, value_name = "PATTERN")]
    pub glob: Option<String>,
    /// Drop stored files under the given paths that no longer exist there.
    #[arg(long)]
    pub prune: bool,
}

#[derive(Debug, Args)]
pub struct RagSearchArgs {
    /// The query (words are joined).
    #[arg(required = true)]
    pub query: Vec<String>,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
}

#[derive(Debug, Args)]
pub struct RetrievalArgs {
    /// The collection (RAG_COLLECTION when omitted).
    #[arg(short, long, value_name = "NAME", value_parser = collection_name)]
    pub collection: Option<String>,
    /// How many chunks (RAG_TOP_K when omitted).
    #[arg(short = 'k', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub top_k: Option<u16>,
    /// hybrid (vector + BM25, fused), vector or bm25.
    #[arg(long, default_value = "hybrid", value_parser = ["hybrid", "vector", "bm25"])]
    pub mode: String,
    /// Only chunks of files whose path starts with this (absolute, or relative to here).
    #[arg(long, value_name = "PREFIX")]
    pub path: Option<String>,
}

#[derive(Debug, Args)]
pub struct RagQueryArgs {
    /// The question (words are joined).
    #[arg(required = true)]
    pub question: Vec<String>,
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    /// Model to answer with (overrides MODEL).
    #[arg(short, long)]
    pub model: Option<String>,
    /// Print the whole answer at once, when it is done.
    #[arg(long)]
    pub no_stream: bool,
    /// Print the answer exactly as the model wrote it, not rendered.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    pub query: String,
    /// A table: PATH (named after the file), NAME=PATH, or cache:KEY / NAME=cache:KEY. Repeatable.
    #[arg(short, long = "table", value_name = "[NAME=]PATH")]
    pub tables: Vec<String>,
    /// Output format (default: a table, or from --out's extension).
    #[arg(long, value_parser = ["table", "csv", "json", "parquet"])]
    pub format: Option<String>,
    /// Write the result to this file instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Allow statements that create, change or write data or files (CREATE, DROP, INSERT,
    /// COPY … TO, SET); without it `sql` only reads.
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Remove the files this long after the upload (90s, 15m, 1h, 7d; default UPLOAD_TTL, 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<u64>,
    /// Keep the files until `vuhitra files rm` (no expiry).
    #[arg(long, conflicts_with = "ttl")]
    pub keep: bool,
    /// The name in the workspace (one file only).
    #[arg(long = "as", value_name = "NAME")]
    pub name: Option<String>,
}

fn parse_duration(s: &str) -> Result<u64, String> {
    vuhitra_core::config::parse_duration_secs(s).ok_or_else(|| "expected a duration such as 90s, 15m, 1h or 7d".into())
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Registered files with size, type, checksum and expiry.
    #[command(alias = "ls")]
    List,
    /// Delete a file from the workspace.
    #[command(alias = "delete")]
    Rm { name: String },
    /// Copy a file (an upload, or a job's output) out of the workspace.
    #[command(
        after_help = "Examples:\n  vuhitra files get sales.csv -o ~/Downloads/\n  vuhitra files get projects/calc/report.txt -o -      (to stdout)\n\nNAME is a registered file or a path inside the workspace; `..`, absolute\npaths and symbolic links are refused. An existing PATH is kept unless --force."
    )]
    Get {
        name: String,
        /// Where to write it: a file, a directory, or - for stdout (default: ./NAME's file name).
        #[arg(short, long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Delete expired files (--expired, the default) or every file (--all).
    Cleanup {
        #[arg(long, conflicts_with = "all")]
        expired: bool,
        #[arg(long)]
        all: bool,
    },
}

const DEV_HELP: &str = "\
Examples:
  vuhitra dev \"write fizzbuzz in main.py with pytest tests\"
  vuhitra dev --dir calc --language javascript \"add(a, b) in sum.js, tested\"
  vuhitra dev --dir calc --watch               (open the project; re-check on every save)
  vuhitra --json dev --prod --dir calc \"make the tests pass\"   (scripts and CI)
  vuhitra dev history;  vuhitra dev show 3 --iteration 2

Each iteration the model (MODEL_CODE, else MODEL) answers with files: a path on
its own line then the whole file in a ``` block, the path in the fence
(```python app.py), or <<<<<<< SEARCH / ======= / >>>>>>> REPLACE edits.
Files are written atomically and only inside the project directory
(WORKSPACE_PATH/projects/DIR). The program (main.py, main.js) and the tests
(pytest for test_*.py, node --test for *.test.js, or --test-cmd) then run in
the sandbox, with its limits and no network. A pass ends the task with a diff;
a failure, trimmed to the first error, goes back to the model. At most
MAX_ITERATIONS_DEV iterations (--prod: MAX_ITERATIONS_PROD), counted over the
session. After a pass, type a change to go on, or `exit`. Ctrl-C stops the
current iteration and keeps the files. Every iteration is kept in the store
(`dev history`, `dev show`) and recorded in heuristics.";

#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(subcommand)]
    pub command: Option<DevCommand>,
    #[command(flatten)]
    pub run: DevRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Dev tasks, latest first: project, language, status, iterations, tokens.
    History {
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One task's transcript: each iteration's files, checks and feedback.
    Show {
        /// The task's id (from `dev history`).
        id: i64,
        /// Show this iteration in full: the prompt, the answer, the files and the check output.
        #[arg(long, value_name = "N")]
        iteration: Option<i64>,
    },
}

#[derive(Debug, Args)]
pub struct DevRunArgs {
    /// The task (words are joined); without one, dev mode asks for it.
    pub task: Vec<String>,
    /// The project's language (default: what its files are, else python).
    #[arg(short, long, value_enum)]
    pub language: Option<DevLanguage>,
    /// The project directory inside WORKSPACE_PATH/projects, created or opened
    /// (default: a new one named after the task).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<String>,
    /// Iterations for this session (overrides MAX_ITERATIONS_DEV / MAX_ITERATIONS_PROD).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_iterations: Option<u32>,
    /// The test command, run with sh in the project directory in the sandbox, instead of pytest / node --test.
    #[arg(long, value_name = "CMD")]
    pub test_cmd: Option<String>,
    /// A file the model sees but may not change, such as tests you wrote (repeat for more).
    #[arg(long, value_name = "PATH")]
    pub read_only: Vec<String>,
    /// Between tasks, watch the project and re-run the checks when a file changes; a new failure goes to the model.
    #[arg(long)]
    pub watch: bool,
    /// One task, no questions (for scripts and CI): MAX_ITERATIONS_PROD, exit 1 when the limit is reached.
    #[arg(long, conflicts_with = "watch")]
    pub prod: bool,
    /// Install the project's dependencies (requirements.txt into .venv, package.json with npm) in the sandbox, with network.
    #[arg(long)]
    pub allow_install: bool,
    /// Model to use (overrides MODEL_CODE and MODEL).
    #[arg(short, long)]
    pub model: Option<String>,
    /// Do not show failures to the model: every iteration starts afresh from the task (a baseline for benchmarks).
    #[arg(long)]
    pub no_feedback: bool,
    /// Sampling temperature (default 0.2).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// Longest answer per iteration, in tokens (a model that rambles is cut off there).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_tokens: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DevLanguage {
    Python,
    Javascript,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A file (in the workspace, or a local one, uploaded first) runs as a script by its
    /// extension (.py, .sh, .js, .rb; else as a program); anything else runs as a command.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "FILE|-- CMD")]
    pub command: Vec<String>,
    /// Wall-clock limit (overrides SANDBOX_TIMEOUT).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<u64>,
    /// Memory limit (overrides SANDBOX_MEMORY), e.g. 512MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Allow network access.
    #[arg(long)]
    pub network: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    vuhitra_core::config::parse_size(s).ok_or_else(|| "expected a size such as 512MiB or 2GiB".into())
}

#[derive(Debug, Args)]
pub struct RateArgs {
    /// [ID] RATING: a record id or a unique start of one (default: the last answer), then 0-5.
    #[arg(num_args = 1..=2, value_names = ["ID", "RATING"], required = true)]
    pub args: Vec<String>,
    /// What the answer should have been; shown to the model for similar prompts.
    #[arg(short, long, value_name = "TEXT")]
    pub correction: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatsBy {
    Intent,
    Model,
    Both,
}

#[derive(Debug, Subcommand)]
pub enum HeuristicsCommand {
    /// The latest records, newest first.
    #[command(alias = "ls")]
    List {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        intent: Option<String>,
        #[arg(long)]
        model: Option<String>,
    },
    /// One record in full.
    Show { id: String },
    /// Why a past prompt went to its model: the rule, and each candidate's
    /// record and chance as the router saw them.
    Why { id: String },
    /// Count, success rate, p50/p95 latency, tokens/s and mean rating per
    /// intent and model; for each MODEL_<INTENT> that names several models,
    /// each candidate's record and current choice probability.
    Stats {
        #[arg(long, value_enum, default_value_t = StatsBy::Both)]
        by: StatsBy,
    },
    /// Every record as JSON lines.
    Export {
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Delete every record.
    Clear {
        #[arg(short, long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Whether the cache is on, where it lives, its settings and size.
    Status,
    /// Entries, newest first.
    #[command(alias = "ls")]
    List {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
    /// Hit rate and the mean latency of hits against misses.
    Stats,
    /// Delete every entry.
    Clear {
        #[arg(short, long)]
        yes: bool,
    },
    /// Delete one entry.
    #[command(alias = "delete")]
    Rm { id: String },
    /// Measure precision and recall on labelled prompt pairs (JSON lines:
    /// {"a": ..., "b": ..., "expect": "hit"|"miss", "kind": ...}), in a scratch store.
    Eval {
        pairs: PathBuf,
        /// Override PROMPT_CACHE_THRESHOLD for this run.
        #[arg(long)]
        threshold: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Models on the server.
    #[command(alias = "ls")]
    List,
    /// Download a model; run it again to resume an interrupted pull.
    Pull {
        name: String,
        /// Allow a registry without TLS (e.g. a local one).
        #[arg(long)]
        insecure: bool,
    },
    /// Context length, parameters, quantization and capabilities.
    Show { name: String },
    /// Delete a model from the server.
    #[command(alias = "delete")]
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Saved sessions, most recent first.
    #[command(alias = "ls")]
    List,
    /// Print a session's messages (rendered on a terminal; `export` gives the Markdown source).
    Show { name: String },
    /// Delete a session.
    #[command(alias = "delete")]
    Rm { name: String },
    /// Write a session as Markdown or JSON.
    Export {
        name: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Markdown)]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every value and where it came from (secrets masked).
    Show,
    /// Check types, ranges and URLs; with --services also reach each service.
    Validate {
        #[arg(long)]
        services: bool,
    },
    /// Write a documented .env (never overwrites without --force).
    Init {
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = ".env", value_name = "PATH")]
        path: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
