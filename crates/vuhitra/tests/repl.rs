//! The REPL driven through a real pseudo-terminal (tmux), against the real
//! Ollama: every slash command, multi-line input, Ctrl-C, and @analyze.

#[macro_use]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{ollama, TestEnv};

struct Tmux {
    socket: String,
    target: String,
}

impl Tmux {
    fn start(env: &TestEnv, name: &str, command: &str) -> Tmux {
        let socket = format!("vuhitra-test-{name}-{}", std::process::id());
        let target = "repl".to_string();
        let mut exports: Vec<String> = vec![format!("VUHITRA_HOME={}", env.home.path().display())];
        exports.extend(env.vars.iter().map(|(k, v)| format!("{k}={v}")));
        let script = format!(
            "cd {} && env -u REDIS_URL -u ELASTICSEARCH_URL {} {command}; echo EXITED:$?; sleep 60",
            env.cwd.path().display(),
            exports.join(" ")
        );
        let ok = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-s", &target, "-x", "160", "-y", "50", "bash", "-c", &script])
            .status()
            .unwrap();
        assert!(ok.success(), "tmux did not start");
        Tmux { socket, target }
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.socket, "send-keys", "-t", &self.target];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    /// Types a line and presses Enter.
    fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.capture(&[])
    }

    /// The screen with its styles, as SGR escapes.
    fn styled_screen(&self) -> String {
        self.capture(&["-e"])
    }

    fn capture(&self, options: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-2000", "-t", &self.target])
            .args(options)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `done`; `what` names it in the panic.
    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until `needle` appears `count` times on the screen.
    #[track_caller]
    fn wait_for_n(&self, needle: &str, count: usize) -> String {
        self.wait_until(&format!("{needle:?} (x{count})"), |s| s.matches(needle).count() >= count)
    }

    /// Waits for the command to end and asserts that it succeeded.
    #[track_caller]
    fn wait_for_success(&self) -> String {
        let screen = self.wait_for("EXITED:");
        assert!(screen.contains("EXITED:0"), "{screen}");
        screen
    }

    #[track_caller]
    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_n(needle, 1)
    }

    /// Waits until one of `needles` appears on the screen.
    #[track_caller]
    fn wait_for_any(&self, needles: &[&str]) -> String {
        self.wait_until(&format!("one of {needles:?}"), |s| needles.iter().any(|n| s.contains(n)))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

#[test]
fn models_pull_draws_a_progress_bar_on_a_terminal() {
    let Some(o) = ollama() else { return };
    let Some(model) = common::service("VUHITRA_TEST_REGISTRY_MODEL", "the local OCI registry") else { return };
    if !common::require("tmux") {
        return;
    }
    let env = TestEnv::with_ollama(&o);
    let bin = env!("CARGO_BIN_EXE_vuhitra");
    let t = Tmux::start(&env, "pull", &format!("{bin} models pull --insecure {model}"));
    let screen = t.wait_for_success();
    assert!(screen.contains("pulling ") && screen.contains("100%"), "a per-layer bar with its percentage:\n{screen}");
    assert!(screen.contains("ETA"), "{screen}");
    assert!(screen.contains("MiB") || screen.contains("KiB"), "byte counts:\n{screen}");
}

#[test]
fn repl_slash_commands_multiline_and_ctrl_c() {
    let o = need!(ollama());
    if !common::require("tmux") {
        return;
    }
    let env = TestEnv::with_ollama(&o);
    env.file("facts.txt", "Otters hold hands while sleeping.");
    env.file("long.txt", "history ".repeat(3000));
    let bin = env!("CARGO_BIN_EXE_vuhitra");
    let t = Tmux::start(&env, "repl", &format!("{bin} chat --max-tokens 6 --temperature 0"));
    t.wait_for("/help for commands");

    t.line("/help");
    t.wait_for("/sessions        list saved conversations");

    t.line("/model no-such-model:1b");
    t.wait_for("vuhitra models pull no-such-model:1b");
    t.line(&format!("/model {}", o.model));
    t.wait_for(&format!("model set to {}", o.model));

    t.line("/system You answer in one word.");
    t.wait_for("system prompt set");
    t.line("/system");
    t.wait_for("system prompt: You answer in one word.");

    t.line("/file missing.txt");
    t.wait_for("missing.txt: not found");
    t.line("/file facts.txt");
    t.wait_for("attached facts.txt");

    // Multi-line: a trailing backslash continues the message.
    t.line("What animal is this about? \\");
    t.line("Answer briefly.");
    t.wait_for(" answer tokens");

    // Feedback on the last answer.
    t.line("/rate 9");
    t.wait_for("is not a whole number from 0 to 5");
    t.line("/rate 2 Otters, and say they hold hands.");
    t.wait_for("with a correction");

    t.line("/save trip");
    t.wait_for("saved 2 messages as session trip");
    t.line("/sessions");
    t.wait_for("trip  2 messages");

    t.line("/clear");
    t.wait_for("conversation cleared; session trip is kept");
    t.line("/load trip");
    t.wait_for("loaded session trip: 2 messages");

    t.line("/bogus");
    t.wait_for("unknown command /bogus");

    // Ctrl-C during an answer cancels it and the REPL carries on. A long
    // attachment keeps the model busy (prompt evaluation) well past the key press.
    t.line("/file long.txt");
    t.wait_for("attached long.txt");
    t.line("Tell me everything about the history of the world.");
    std::thread::sleep(Duration::from_millis(500));
    t.send(&["C-c"]);
    t.wait_for("^C the answer was cancelled");
    t.line("/help");
    t.wait_for_n("/sessions        list saved conversations", 2);
    // The next prompt gets a live token: it is answered, not cancelled at once.
    t.line("Say hello.");
    t.wait_for_n(" answer tokens", 2);

    t.line("/exit");
    t.wait_for("EXITED:0");

    // What the REPL saved: system prompt, the file, both lines of the message.
    let s = env.run(&["--json", "sessions", "show", "trip"]).ok().json();
    assert_eq!(s["system"], "You answer in one word.");
    assert_eq!(s["model"], o.model.as_str());
    let msgs = s["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "the cancelled turn was not saved, the one after it was: {msgs:?}");
    let user = msgs[0]["content"].as_str().unwrap();
    assert!(user.contains("Otters hold hands"), "{user}");
    assert!(user.contains("What animal is this about?\nAnswer briefly."), "{user}");
    let rated = env.run(&["--json", "heuristics", "list"]).ok().json();
    let rated = rated.as_array().unwrap().iter().find(|r| r["rating"] == 2).expect("the /rate landed");
    assert_eq!(rated["correction"], "Otters, and say they hold hands.");
    assert_eq!(rated["prompt"], "What animal is this about?\nAnswer briefly.");
    // History persists across runs.
    let history = std::fs::read_to_string(env.home.path().join("history.txt")).unwrap();
    assert!(history.contains("/save trip"), "{history}");
}

/// `@analyze` in the REPL answers about a data file with checked SQL (or
/// says why it could not within MAX_ITERATIONS_PROD), and `/rate` then rates
/// that question's record.
#[test]
fn repl_analyze_keyword_asks_about_a_file_and_can_be_rated() {
    let o = need!(ollama());
    if !common::require("tmux") {
        return;
    }
    let mut env = TestEnv::with_ollama(&o);
    env.set("MAX_ITERATIONS_PROD", "1");
    env.file("sales.csv", "region,amount\nnorth,10\nsouth,20\nnorth,30\n");
    let bin = env!("CARGO_BIN_EXE_vuhitra");
    let t = Tmux::start(&env, "repl-analyze", &format!("{bin} chat"));
    t.wait_for("/help for commands");
    t.line("@analyze what is the total amount?");
    t.wait_for("@analyze needs a data file");
    t.line("@analyze @file:sales.csv what is the total amount?");
    let screen = t.wait_for_any(&["SQL:", "no working SQL after 1 tries"]);
    assert!(!screen.contains("panicked"), "{screen}");
    t.line("/rate 4");
    t.wait_for("rated ");
    t.line("/exit");
    t.wait_for("EXITED:0");
    let records = env.run(&["--json", "heuristics", "list"]).ok().json();
    let record = records.as_array().unwrap().iter().find(|r| r["rating"] == 4).expect("the /rate landed");
    assert_eq!(record["prompt"], "what is the total amount?");
}

#[test]
fn tools_in_the_repl_are_switched_on_with_slash_tools_and_each_call_is_confirmed() {
    let o = need!(ollama());
    let time = need!(common::service("VUHITRA_TEST_MCP_TIME", "mcp-server-time (PyPI)"));
    if !common::require("tmux") {
        return;
    }
    let model = need!(common::time_tools_model(&o, "repl"));
    let mut env = TestEnv::with_ollama(&o);
    env.set("MAX_TOOL_ROUNDS", "1");
    let servers = serde_json::json!({"mcpServers": {"time": {"command": time}}});
    std::fs::write(env.home.path().join("mcp.json"), servers.to_string()).unwrap();
    let bin = env!("CARGO_BIN_EXE_vuhitra");
    let t = Tmux::start(&env, "tools", &format!("{bin} chat -m {model}"));
    t.wait_for("/help for commands");
    t.line("/tools");
    t.wait_for("tools on: time__get_current_time, time__convert_time");

    t.line("What time is it in Tokyo?");
    t.wait_for("run time__get_current_time? [y]es, [n]o, [a]lways for this tool:");
    t.line("n");
    t.wait_for_n("answer tokens", 1);
    t.line("What time is it in Tokyo?");
    t.wait_for_n("run time__get_current_time?", 2);
    t.line("y");
    let screen = t.wait_for("← result:");
    assert!(screen.contains("datetime"), "the real server's answer:\n{screen}");
    t.wait_for_n("answer tokens", 2);
    t.line("/tools off");
    t.wait_for("tools off");
    t.line("/exit");
    let screen = t.wait_for("EXITED:");
    common::delete_model(&o, &model);
    assert!(screen.contains("EXITED:0"), "{screen}");
}

/// What `markdown` looks like on a 160-column colour terminal, as text:
/// the renderer's own output with its escapes taken out.
fn rendered_text(markdown: &str) -> Vec<String> {
    let options = vuhitra_render::Options { width: 160, color: vuhitra_render::ColorLevel::Ansi256 };
    let rendered = vuhitra_render::MarkdownStream::render(markdown, options);
    let (plain, _) = split_escapes(&rendered);
    plain.lines().map(|l| l.trim_end().to_string()).collect()
}

/// Text without its escapes, and the parameters of every SGR escape.
fn split_escapes(styled: &str) -> (String, Vec<Vec<u32>>) {
    let mut plain = String::new();
    let mut sgr = Vec::new();
    let mut chars = styled.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            plain.push(c);
            continue;
        }
        let mut body = String::new();
        for d in chars.by_ref() {
            if d.is_ascii_alphabetic() {
                if d == 'm' {
                    sgr.push(body.trim_start_matches('[').split(';').filter_map(|p| p.parse().ok()).collect());
                }
                break;
            }
            body.push(d);
        }
    }
    (plain, sgr)
}

/// Asserts that `lines` appear on `screen` one after another.
#[track_caller]
fn assert_shown(screen: &str, lines: &[String]) {
    let shown: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let wanted: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert!(
        shown.windows(wanted.len().max(1)).any(|w| w == wanted.as_slice()),
        "the screen does not show\n{}\n--- screen ---\n{screen}",
        wanted.join("\n")
    );
}

fn session_messages(env: &TestEnv, name: &str) -> Vec<serde_json::Value> {
    let s = env.run(&["--json", "sessions", "show", name]).ok().json();
    s["messages"].as_array().expect("messages").clone()
}

/// Answers are rendered as Markdown on a terminal: what the REPL shows is
/// the renderer's output for the answer the session saved (the tests of
/// vuhitra-render check that output, split at every byte); `--raw` shows
/// the model's text as it is; `sessions show` renders a transcript whose
/// Markdown is known, with colours, and with NO_COLOR only attributes.
#[test]
fn answers_are_rendered_as_markdown_on_a_terminal() {
    let o = need!(ollama());
    if !common::require("tmux") {
        return;
    }
    let env = TestEnv::with_ollama(&o);
    let bin = env!("CARGO_BIN_EXE_vuhitra");
    let prompt = "List three fruits as a Markdown list, with a heading. Use **bold** for the names and `code` for colours.";

    let t = Tmux::start(&env, "render", &format!("{bin} chat --session md --temperature 0 --max-tokens 120"));
    t.wait_for("/help for commands");
    t.line(prompt);
    t.wait_for(" answer tokens");
    t.line("/exit");
    let screen = t.wait_for_success();
    let messages = session_messages(&env, "md");
    let answer = messages[1]["content"].as_str().expect("the answer");
    assert_shown(&screen, &rendered_text(answer));

    // --raw: the model's own text, line for line.
    let t = Tmux::start(&env, "raw", &format!("{bin} chat --session raw --raw --temperature 0 --max-tokens 60 \"Say hi in **bold**.\""));
    let screen = t.wait_for_success();
    let raw = session_messages(&env, "raw")[1]["content"].as_str().expect("the answer").to_string();
    let raw_lines: Vec<String> = raw.trim_end().lines().map(|l| l.trim_end().to_string()).collect();
    assert_shown(&screen, &raw_lines);

    // A transcript whose Markdown is known: the user's prompt.
    let source = env.run(&["sessions", "export", "md"]).ok().stdout;
    assert!(source.contains("**bold**"), "piped, the export is the source: {source}");
    let t = Tmux::start(&env, "show", &format!("{bin} sessions show md"));
    let screen = t.wait_for_success();
    assert_shown(&screen, &rendered_text(&source));
    assert!(screen.lines().any(|l| l.trim_end() == "Session md"), "the heading, without its marks:\n{screen}");
    assert!(screen.contains("Use bold for the names and code for colours."), "emphasis and code without markers:\n{screen}");
    assert!(!screen.contains("## user"), "{screen}");
    let (_, sgr) = split_escapes(&t.styled_screen());
    let colours = |params: &Vec<u32>| params.iter().any(|&p| (30..=38).contains(&p) || (90..=97).contains(&p));
    assert!(sgr.iter().any(colours), "headings and code are coloured: {sgr:?}");
    assert!(sgr.iter().any(|p| p.contains(&1)), "bold: {sgr:?}");

    let t = Tmux::start(&env, "show-mono", &format!("NO_COLOR=1 {bin} sessions show md"));
    let screen = t.wait_for_success();
    assert!(screen.contains("Use bold for the names and `code` for colours."), "without colours, code keeps its backticks:\n{screen}");
    let (_, sgr) = split_escapes(&t.styled_screen());
    assert!(!sgr.iter().any(colours), "NO_COLOR: no colours: {sgr:?}");
    assert!(sgr.iter().any(|p| p.contains(&1)), "NO_COLOR keeps bold: {sgr:?}");
}
