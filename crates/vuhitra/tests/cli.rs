//! The binary's behaviour without any service: help, configuration, bad
//! input, exit codes.

mod common;

use common::TestEnv;

#[test]
fn version_prints_the_crate_version() {
    let r = TestEnv::new().run(&["--version"]).ok();
    assert_eq!(r.stdout.trim(), format!("vuhitra {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_teaches_with_examples_and_every_command() {
    let r = TestEnv::new().run(&["--help"]).ok();
    for word in [
        "chat",
        "models",
        "sessions",
        "config",
        "info",
        "doctor",
        "completions",
        "Examples:",
        "--json",
        "--data-dir",
        "--log-level",
    ] {
        assert!(r.stdout.contains(word), "--help lacks {word:?}:\n{}", r.stdout);
    }
    // Each command is listed with its own summary.
    for (command, summary) in [
        ("rate", "Rate an answer 0-5"),
        ("heuristics", "What was asked"),
        ("cache", "The similarity prompt cache"),
        ("nlp", "Analyse a prompt"),
    ] {
        let line = r.stdout.lines().find(|l| l.trim_start().starts_with(command)).unwrap_or_default();
        assert!(line.contains(summary), "{command}: {line:?}\n{}", r.stdout);
    }
    let chat = TestEnv::new().run(&["chat", "--help"]).ok();
    assert!(chat.stdout.contains("@file:PATH"), "{}", chat.stdout);
    assert!(chat.stdout.contains("@cache") && chat.stdout.contains("vuhitra rate"), "{}", chat.stdout);
    assert!(chat.stdout.contains("REPL"), "{}", chat.stdout);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let r = TestEnv::new().run(&["chat", "--no-such-flag"]).fails_with(2);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let r = TestEnv::new().run(&["completions", shell]).ok();
        assert!(r.stdout.contains("vuhitra"), "{shell}");
        assert!(r.stdout.contains("sessions") && r.stdout.contains("doctor"), "{shell} completion lacks subcommands");
    }
    let env = TestEnv::new();
    let r = env.run(&["completions", "bash"]).ok();
    // From a file: the script is longer than one argument may be (128 KiB).
    let script = env.file("vuhitra.bash", &r.stdout);
    let check = std::process::Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(check.success(), "bash completion script does not parse");
}

#[test]
fn config_show_tells_where_each_value_came_from() {
    let mut env = TestEnv::new();
    env.file(".env", "# mine\nMAX_ITERATIONS_PROD=9\nMODEL=from-dotenv\n");
    env.set("MODEL", "from-env").set("REDIS_URL", "redis://:hunter2@cache:6379");
    let r = env.run(&["--json", "--log-level", "debug", "config", "show"]).ok();
    let rows = r.json();
    let row = |k: &str| rows.as_array().unwrap().iter().find(|r| r["key"] == k).unwrap().clone();
    assert_eq!(row("MODEL")["value"], "from-env");
    assert_eq!(row("MODEL")["source"], "environment");
    assert_eq!(row("MAX_ITERATIONS_PROD")["value"], "9");
    assert!(row("MAX_ITERATIONS_PROD")["source"].as_str().unwrap().ends_with(".env:2"));
    assert_eq!(row("LOG_LEVEL")["source"], "flag --log-level");
    assert_eq!(row("MAX_ITERATIONS_DEV")["source"], "default");
    assert_eq!(row("REDIS_URL")["value"], "redis://:****@cache:6379", "secrets are masked");
    assert!(!r.stdout.contains("hunter2"));

    let text = env.run(&["config", "show"]).ok();
    assert!(text.stdout.contains("KEY") && text.stdout.contains("SOURCE"));
    assert!(!text.stdout.contains("hunter2"));
}

#[test]
fn bad_value_in_dotenv_names_key_value_expectation_and_line() {
    let env = TestEnv::new();
    env.file(".env", "MODEL=x\nMAX_UPLOADED_FILE_SIZE=ten\n");
    let r = env.run(&["info"]).fails_with(2);
    assert!(r.stderr.contains("MAX_UPLOADED_FILE_SIZE"), "{}", r.stderr);
    assert!(r.stderr.contains("\"ten\""), "{}", r.stderr);
    assert!(r.stderr.contains("size in bytes"), "{}", r.stderr);
    assert!(r.stderr.contains(".env:2"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn bad_value_in_environment_says_so() {
    let mut env = TestEnv::new();
    env.set("ENABLE_HEURISTICS", "perhaps");
    let r = env.run(&["info"]).fails_with(2);
    assert!(r.stderr.contains("ENABLE_HEURISTICS") && r.stderr.contains("from environment"), "{}", r.stderr);
}

#[test]
fn malformed_dotenv_line_fails_with_file_and_line() {
    let env = TestEnv::new();
    env.file(".env", "MODEL=x\n\nthis line is broken\n");
    let r = env.run(&["config", "show"]).fails_with(2);
    assert!(r.stderr.contains("line 3"), "{}", r.stderr);
    assert!(r.stderr.contains(".env"), "{}", r.stderr);
}

#[test]
fn config_validate_lists_every_error_and_exits_2() {
    let mut env = TestEnv::new();
    env.set("MAX_ITERATIONS_DEV", "0").set("ELASTICSEARCH_URL", "elasticsearch:9200").set("LOG_LEVEL", "loud");
    let r = env.run(&["config", "validate"]).fails_with(2);
    for key in ["MAX_ITERATIONS_DEV", "ELASTICSEARCH_URL", "LOG_LEVEL"] {
        assert!(r.stderr.contains(key), "{key} not reported:\n{}", r.stderr);
    }
    let j = env.run(&["--json", "config", "validate"]).fails_with(2).json();
    assert_eq!(j["valid"], false);
    assert_eq!(j["errors"].as_array().unwrap().len(), 3);

    let good = TestEnv::new().run(&["config", "validate"]).ok();
    assert!(good.stdout.contains("configuration is valid"));
}

#[test]
fn config_validate_warns_about_unknown_keys() {
    let env = TestEnv::new();
    env.file(".env", "MODLE=typo\n");
    let r = env.run(&["config", "validate"]).ok();
    assert!(r.stderr.contains("unknown key MODLE"), "{}", r.stderr);
}

#[test]
fn config_init_writes_the_template_and_never_overwrites_without_force() {
    let env = TestEnv::new();
    env.run(&["config", "init"]).ok();
    let written = std::fs::read_to_string(env.cwd.path().join(".env")).unwrap();
    let template = std::fs::read_to_string(common::repo_root().join(".env.template")).unwrap();
    assert_eq!(written, template);

    std::fs::write(env.cwd.path().join(".env"), "MODEL=mine\n").unwrap();
    let r = env.run(&["config", "init"]).fails_with(2);
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(env.cwd.path().join(".env")).unwrap(),
        "MODEL=mine\n",
        "the user's file is untouched"
    );

    env.run(&["config", "init", "--force"]).ok();
    assert_eq!(std::fs::read_to_string(env.cwd.path().join(".env")).unwrap(), template);
    // The written file is a valid configuration.
    env.run(&["config", "validate"]).ok();
}

#[test]
fn data_dir_flag_overrides_vuhitra_home() {
    let env = TestEnv::new();
    let other = tempfile::tempdir().unwrap();
    let r = env.run(&["--json", "--data-dir", other.path().to_str().unwrap(), "info"]).ok();
    assert_eq!(r.json()["settings"]["data dir"], other.path().to_str().unwrap());
}

#[test]
fn info_names_the_backend_of_each_part() {
    let mut env = TestEnv::new();
    env.set("REDIS_URL", "redis://cache:6379");
    let j = env.run(&["--json", "info"]).ok().json();
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["backends"]["redis"], "Redis at redis://cache:6379");
    assert_eq!(j["backends"]["elasticsearch"], "embedded");
    assert!(j["features"].as_array().unwrap().iter().any(|f| f == "chat"));
    assert!(j["backends"]["sessions"].as_str().unwrap().starts_with("SQLite at "));
    assert!(j["backends"]["heuristics and prompt cache"].as_str().unwrap().starts_with("SQLite at "));
}

#[test]
fn unavailable_keyword_stops_with_its_name() {
    let r = TestEnv::new().run(&["chat", "@spark count the rows"]).fails_with(2);
    assert!(r.stderr.contains("@spark"), "{}", r.stderr);
    assert!(r.stderr.contains("not in this build"), "{}", r.stderr);
    // @devmode is built; without a task it is a usage error before any request.
    let r = TestEnv::new().run(&["chat", "@devmode"]).fails_with(2);
    assert!(r.stderr.contains("@devmode needs a task"), "{}", r.stderr);
}

#[test]
fn context_file_over_the_limit_is_refused_before_any_request() {
    let mut env = TestEnv::new();
    // Nothing listens here: if the size check did not come first, the error would be "unreachable".
    env.set("OLLAMA_IP", "http://127.0.0.1:9").set("MAX_CONTEXT_FILE_SIZE", "1KiB");
    env.file("big.txt", "x".repeat(2000));
    let r = env.run(&["chat", "-f", "big.txt", "summarize"]).fails_with(2);
    assert!(r.stderr.contains("big.txt") && r.stderr.contains("MAX_CONTEXT_FILE_SIZE"), "{}", r.stderr);
}

#[test]
fn binary_context_file_is_refused() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "http://127.0.0.1:9");
    env.file("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0");
    let r = env.run(&["chat", "describe @file:photo.png"]).fails_with(2);
    assert!(r.stderr.contains("photo.png") && r.stderr.contains("binary"), "{}", r.stderr);
}

#[test]
fn missing_context_file_is_named() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "http://127.0.0.1:9");
    let r = env.run(&["chat", "-f", "nope.md", "hi"]).fails_with(2);
    assert!(r.stderr.contains("nope.md") && r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn oversized_piped_stdin_is_refused() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "http://127.0.0.1:9").set("MAX_CONTEXT_FILE_SIZE", "100");
    let r = env.run_with_stdin(&["chat", "summarize"], &"y".repeat(500));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("stdin"), "{}", r.stderr);
}

#[test]
fn unreachable_ollama_names_the_url_and_how_to_fix_it() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "http://127.0.0.1:9").set("OLLAMA_RETRIES", "1");
    let r = env.run(&["chat", "hello"]).fails_with(1);
    assert!(r.stderr.contains("unreachable at http://127.0.0.1:9"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:") && r.stderr.contains("OLLAMA_IP"), "{}", r.stderr);

    let j = env.run(&["--json", "models", "list"]).fails_with(1).json();
    assert!(j["error"].as_str().unwrap().contains("unreachable"));
    assert_eq!(j["exit_code"], 1);
}

#[test]
fn json_needs_a_prompt() {
    let r = TestEnv::new().run_with_stdin(&["--json", "chat"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn sessions_on_a_fresh_store() {
    let env = TestEnv::new();
    let r = env.run(&["sessions", "list"]).ok();
    assert!(r.stdout.contains("no sessions yet"));
    assert_eq!(env.run(&["--json", "sessions", "list"]).ok().json(), serde_json::json!([]));
    let r = env.run(&["sessions", "rm", "ghost"]).fails_with(1);
    assert!(r.stderr.contains("ghost") && r.stderr.contains("sessions list"), "{}", r.stderr);
    env.run(&["sessions", "export", "ghost"]).fails_with(1);
}

#[test]
fn unwritable_data_dir_is_a_clear_error() {
    let env = TestEnv::new();
    let file = env.file("not-a-dir", "x");
    let r = env.run(&["--data-dir", file.to_str().unwrap(), "sessions", "list"]).fails_with(1);
    assert!(r.stderr.contains("not-a-dir"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn doctor_fails_when_a_configured_service_is_down() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "http://127.0.0.1:9")
        .set("OLLAMA_RETRIES", "0")
        .set("ELASTICSEARCH_URL", "http://127.0.0.1:9")
        .set("SPARK_MASTER", "spark://127.0.0.1:9")
        .set("SANDBOX_CONTAINER", "vuhitra-sandbox")
        .set("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let r = env.run(&["--json", "doctor"]).fails_with(1);
    let probes = r.json();
    let status = |s: &str| probes.as_array().unwrap().iter().find(|p| p["service"] == s).unwrap()["status"].clone();
    assert_eq!(status("ollama"), "fail");
    assert_eq!(status("elasticsearch"), "fail");
    assert_eq!(status("spark"), "fail");
    assert_eq!(status("sandbox"), "fail");
    assert_eq!(status("store"), "ok");
    assert_eq!(status("redis"), "embedded");
}

#[test]
fn many_processes_opening_a_fresh_store_at_once_all_succeed() {
    for round in 0..5 {
        let env = TestEnv::new();
        let commands = vec![vec!["sessions".to_string(), "list".to_string()]; 8];
        for r in env.run_concurrently(&commands) {
            assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        }
    }
}

#[test]
fn nlp_reports_the_analysis_and_a_signature_that_ignores_rewording() {
    let env = TestEnv::new();
    let a = env.run(&["--json", "nlp", "How do I sort a list in Python?"]).ok().json();
    let b = env.run(&["--json", "analyze-prompt", "how to sort python list"]).ok().json();
    assert_eq!(a["signature"]["mode"], "nlp");
    assert_eq!(a["signature"]["value"], b["signature"]["value"], "rewordings share the nlp signature");
    assert_ne!(a["signature"]["hash"], b["signature"]["hash"]);
    let negated = env.run(&["--json", "nlp", "How do I not sort a list in Python?"]).ok().json();
    assert_ne!(a["signature"]["value"], negated["signature"]["value"]);
    assert_eq!(a["negations"], serde_json::json!([]));
    assert_eq!(negated["negations"], serde_json::json!(["not"]));

    let d = env.run(&["--json", "nlp", "What is the average revenue per region in sales.csv?"]).ok().json();
    assert_eq!(d["intent"]["kind"], "data_analysis");
    assert!(d["entities"].as_array().unwrap().iter().any(|e| e["kind"] == "file_path" && e["text"] == "sales.csv"));
    assert!(d["sentiment"]["compound"].is_number());

    let text = env.run(&["nlp", "Write a Rust function that parses dates"]).ok();
    assert!(text.stdout.contains("intent") && text.stdout.contains("code ("), "{}", text.stdout);
}

#[test]
fn nlp_signature_mode_follows_config() {
    let mut env = TestEnv::new();
    env.set("PROMPT_SIGNATURE", "hash");
    let j = env.run(&["--json", "nlp", "sort a list"]).ok().json();
    assert_eq!(j["signature"]["mode"], "hash");
    assert_eq!(j["signature"]["value"], j["signature"]["hash"]);
    env.set("PROMPT_SIGNATURE", "md5");
    let r = env.run(&["nlp", "sort a list"]).fails_with(2);
    assert!(r.stderr.contains("PROMPT_SIGNATURE") && r.stderr.contains("one of nlp, hash"), "{}", r.stderr);
}

#[test]
fn nlp_reads_stdin_and_refuses_empty_input() {
    let env = TestEnv::new();
    let r = env.run_with_stdin(&["--json", "nlp"], "Explain the borrow checker");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["intent"]["kind"], "explanation");
    let r = env.run_with_stdin(&["nlp"], "  ");
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn tls_urls_are_accepted_and_a_wrong_scheme_is_refused_with_a_reason() {
    let mut env = TestEnv::new();
    env.set("OLLAMA_IP", "https://gpu-box:11434")
        .set("REDIS_URL", "rediss://:s3cr3t@cache:6380")
        .set("ELASTICSEARCH_URL", "https://es:9200");
    let r = env.run(&["info"]).ok();
    assert!(r.stdout.contains("https://gpu-box:11434"), "{}", r.stdout);
    assert!(!r.stdout.contains("s3cr3t"), "{}", r.stdout);
    let features = env.run(&["--json", "version"]).ok().json()["features"].to_string();
    assert!(features.contains("tls (rustls)"), "{features}");

    let mut bad = TestEnv::new();
    bad.set("REDIS_URL", "https://:s3cr3t@cache:6380");
    let r = bad.run(&["info"]).fails_with(2);
    assert!(r.stderr.contains("REDIS_URL") && r.stderr.contains("redis:// or rediss://"), "{}", r.stderr);
    assert!(!r.stderr.contains("s3cr3t"), "the invalid value is printed masked: {}", r.stderr);
}

#[test]
fn version_says_what_dash_dash_version_says_and_json_adds_the_features() {
    let env = TestEnv::new();
    let flag = env.run(&["--version"]).ok();
    let cmd = env.run(&["version"]).ok();
    assert_eq!(cmd.stdout, flag.stdout);
    assert_eq!(cmd.stdout.trim(), format!("vuhitra {}", env!("CARGO_PKG_VERSION")));
    let j = env.run(&["--json", "version"]).ok().json();
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    let features: Vec<&str> = j["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(features.contains(&"chat") && features.contains(&"mcp client"), "{features:?}");
    // Like --version, it works with a broken configuration.
    let mut broken = TestEnv::new();
    broken.set("MAX_TOOL_ROUNDS", "zero");
    broken.run(&["version"]).ok();
}

#[test]
fn the_license_file_is_the_one_cargo_toml_names() {
    let root = common::repo_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"Apache-2.0\""), "the workspace's license field");
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
}
