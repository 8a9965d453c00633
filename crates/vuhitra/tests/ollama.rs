//! Chat and models against the real Ollama that scripts/test starts
//! (built from its Go module, serving gemma3 270M).

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{ollama, TestEnv};

/// Short answers keep the suite fast on two CPU cores.
const SHORT: &[&str] = &["--max-tokens", "8", "--seed", "7", "--temperature", "0"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["chat"];
    v.extend_from_slice(SHORT);
    v.extend_from_slice(extra);
    v
}

#[test]
fn one_shot_chat_streams_real_tokens() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let r = env.run(&args(&["Write one word about the sea."])).ok();
    assert!(!r.stdout.trim().is_empty(), "no tokens on stdout; stderr: {}", r.stderr);
    assert!(!r.stdout.contains("\x1b["), "piped output must be plain");
}

/// Piped, an answer is not rendered: stdout is the model's Markdown as the
/// session saved it, marks and all (plus a final line break).
#[test]
fn piped_answers_are_the_models_markdown_source() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let prompt = "Write a Markdown list of two fruits with their names in **bold**.";
    for extra in [&[][..], &["--no-stream"][..]] {
        let mut argv = vec!["chat", "--session", "src", "--max-tokens", "40", "--seed", "7", "--temperature", "0"];
        argv.extend_from_slice(extra);
        argv.push(prompt);
        let r = env.run(&argv).ok();
        let s = env.run(&["--json", "sessions", "show", "src"]).ok().json();
        let messages = s["messages"].as_array().expect("messages");
        let answer = messages.last().unwrap()["content"].as_str().expect("the answer");
        let expected = if answer.ends_with('\n') { answer.to_string() } else { format!("{answer}\n") };
        assert_eq!(r.stdout, expected, "{extra:?}: the answer exactly as the model wrote it");
    }
}

/// `vuhitra chat … | head -c0`: the reader leaves before the answer ends.
/// The answer stops, the process ends normally (exit 0, no error) and the
/// turn is not saved half-written into the session.
#[test]
fn no_stream_prints_the_whole_answer_and_stream_is_the_default_spelled_out() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let whole = env.run(&args(&["--no-stream", "Write one word about the sea."])).ok();
    assert!(!whole.stdout.trim().is_empty(), "the answer is printed; stderr: {}", whole.stderr);
    let streamed = env.run(&args(&["--stream", "Write one word about the sea."])).ok();
    assert_eq!(whole.stdout, streamed.stdout, "the same answer (greedy, same seed), printed at once or as it comes");
    // The last of the two wins.
    env.run(&args(&["--no-stream", "--stream", "Write one word about the sea."])).ok();
}

#[test]
fn a_reader_that_leaves_ends_the_answer_quietly() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let mut child = env
        .cmd(&["chat", "--session", "piped", "--max-tokens", "48", "Count from one to forty."])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("error"), "a closed pipe is not an error: {stderr}");
    let shown = env.run(&["sessions", "show", "piped", "--json"]).ok().json();
    assert_eq!(shown["messages"].as_array().map(Vec::len), Some(0), "nothing half-saved: {shown}");
}

#[test]
fn json_reports_answer_tokens_and_timings() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let j = env.run(&args(&["--json", "Count: one, two,"])).ok().json();
    assert!(!j["answer"].as_str().unwrap().is_empty());
    assert_eq!(j["model"], o.model);
    assert!(j["prompt_tokens"].as_u64().unwrap() > 0);
    let completion = j["completion_tokens"].as_u64().unwrap();
    assert!((1..=8).contains(&completion), "--max-tokens 8 was not honoured: {completion}");
    assert!(j["timings_ms"]["total"].as_f64().unwrap() > 0.0);
    assert!(j["timings_ms"]["eval"].as_f64().unwrap() > 0.0);
    assert_eq!(j["num_ctx"], 2048, "a short prompt gets the minimum window");
    assert_eq!(j["done_reason"], "length");
    assert_eq!(j["analysis"]["signature"].as_str().unwrap().len(), 64, "every prompt is analysed");
    assert!(j["analysis"]["intent"].is_string());
}

#[test]
fn every_turn_is_recorded_with_ollamas_metrics() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.run(&args(&["@file:notes.txt what is this?"])).fails_with(2);
    env.file("notes.txt", "The launch code is 0000.");
    env.run(&args(&["@file:notes.txt what is this?"])).ok();
    let list = env.run(&["--json", "heuristics", "list"]).ok().json();
    let turns = list.as_array().unwrap();
    assert_eq!(turns.len(), 1, "the refused prompt never reached the model");
    let t = &turns[0];
    assert_eq!(t["prompt"], "what is this?", "the question is recorded without keywords or context");
    for field in ["response_tokens", "prompt_tokens"] {
        assert!(t[field].as_u64().unwrap() > 0, "{field}: {t}");
    }
    for field in ["total_ms", "eval_ms", "prompt_eval_ms", "tokens_per_second"] {
        assert!(t[field].as_f64().unwrap() > 0.0, "{field}: {t}");
    }
    assert_eq!(t["success"], true);
    assert_eq!(t["intent"], "question", "the question's analysis is kept with the record");
    assert_eq!(t["signature"].as_str().map(str::len), Some(64));
    assert!(t["sentiment"].is_number() && t["intent_confidence"].is_number());
    let notes_hash = vuhitra_nlp::sha256_hex(b"The launch code is 0000.");
    assert_eq!(t["context_hashes"], serde_json::json!([notes_hash]), "context files are kept as hashes, not text");
}

#[test]
fn piped_stdin_and_files_become_context() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.file("a.md", "alpha file");
    let r = env.run_with_stdin(&args(&["--json", "--session", "ctx", "-f", "a.md", "summarize"]), "piped notes");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["context_files"], serde_json::json!(["stdin", "a.md"]));
    let s = env.run(&["--json", "sessions", "show", "ctx"]).ok().json();
    let user = s["messages"][0]["content"].as_str().unwrap();
    assert!(user.contains("Context from stdin:") && user.contains("piped notes"), "{user}");
    assert!(user.contains("Context from a.md:") && user.contains("alpha file"), "{user}");
    assert!(user.ends_with("summarize"), "{user}");
}

#[test]
fn piped_stdin_alone_is_the_prompt() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let r = env.run_with_stdin(&args(&["--json"]), "Say yes.");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.json()["answer"].as_str().unwrap().is_empty());
}

#[test]
fn sessions_persist_and_continue() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.run(&args(&["--session", "work", "--system", "Be brief.", "First question"])).ok();
    env.run(&args(&["--session", "work", "Second question"])).ok();
    let s = env.run(&["--json", "sessions", "show", "work"]).ok().json();
    assert_eq!(s["system"], "Be brief.", "the session keeps its system prompt");
    let roles: Vec<_> =
        s["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap().to_string()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(s["messages"][2]["content"], "Second question");

    let list = env.run(&["--json", "sessions", "list"]).ok().json();
    assert_eq!(list[0]["name"], "work");
    assert_eq!(list[0]["messages"], 4);

    let md = env.run(&["sessions", "export", "work", "-o", "work.md"]).ok();
    assert!(md.stdout.contains("work.md"));
    let text = std::fs::read_to_string(env.cwd.path().join("work.md")).unwrap();
    assert!(text.starts_with("# Session work") && text.contains("## assistant") && text.contains("Second question"));

    env.run(&["sessions", "rm", "work"]).ok();
    env.run(&["sessions", "show", "work"]).fails_with(1);
}

#[test]
fn prompt_too_long_for_the_model_is_refused_not_truncated() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    // About 40k estimated tokens against gemma3's 32768.
    env.file("huge.txt", "lorem ipsum dolor sit amet ".repeat(4500));
    let r = env.run(&args(&["--session", "long", "-f", "huge.txt", "summarize"])).fails_with(1);
    assert!(r.stderr.contains("context window of 32768"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    let s = env.run(&["--json", "sessions", "show", "long"]).ok().json();
    assert_eq!(s["messages"], serde_json::json!([]), "nothing is saved for a refused prompt");
}

#[test]
fn longer_prompts_get_a_larger_window() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.file("medium.txt", "a b c d e f g h ".repeat(300));
    let j = env.run(&args(&["--json", "-f", "medium.txt", "how many letters?"])).ok().json();
    assert_eq!(j["num_ctx"], 4096, "2400 one-letter words need more than the minimum window");
}

#[test]
fn unknown_model_gets_a_pull_hint() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let r = env.run(&args(&["--model", "no-such-model:1b", "hi"])).fails_with(1);
    assert!(r.stderr.contains("no-such-model:1b"), "{}", r.stderr);
    assert!(r.stderr.contains("vuhitra models pull no-such-model:1b"), "{}", r.stderr);
}

#[test]
fn models_list_and_show() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let list = env.run(&["--json", "models", "list"]).ok().json();
    assert!(list.as_array().unwrap().iter().any(|m| m["name"] == format!("{}:latest", o.model)), "{list}");
    let text = env.run(&["models", "list"]).ok();
    assert!(text.stdout.starts_with("NAME") && text.stdout.contains(&o.model));

    let show = env.run(&["--json", "models", "show", &o.model]).ok().json();
    assert_eq!(show["context_length"], 32768);
    assert_eq!(show["quantization"], "Q4_K_M");
    assert_eq!(show["architecture"], "gemma3");
    assert_eq!(show["tools"], false);
    assert_eq!(show["embedding"], false);
    let text = env.run(&["models", "show", &o.model]).ok();
    assert!(text.stdout.contains("context length  32768"), "{}", text.stdout);

    let r = env.run(&["models", "show", "no-such-model"]).fails_with(1);
    assert!(r.stderr.contains("models pull"), "{}", r.stderr);
}

#[test]
fn removing_a_missing_model_fails_clearly() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let r = env.run(&["models", "rm", "no-such-model:latest"]).fails_with(1);
    assert!(r.stderr.contains("no-such-model"), "{}", r.stderr);
}

#[test]
fn doctor_reports_ollama_version_and_latency() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let probes = env.run(&["--json", "doctor"]).ok().json();
    let ollama = probes.as_array().unwrap().iter().find(|p| p["service"] == "ollama").unwrap();
    assert_eq!(ollama["status"], "ok", "{ollama}");
    assert!(ollama["version"].as_str().unwrap().starts_with("0."), "{ollama}");
    assert!(ollama["latency_ms"].as_f64().is_some());

    // The default model missing is a warning, not a failure.
    let mut env = TestEnv::with_ollama(&o);
    env.set("MODEL", "absent-model:7b");
    let r = env.run(&["doctor"]).ok();
    assert!(r.stdout.contains("warn") && r.stdout.contains("absent-model:7b"), "{}", r.stdout);
}

/// A TCP relay to Ollama that cuts the connection a few hundred bytes into
/// the /api/chat response, as a server that dies mid-answer would.
fn start_cutting_proxy(upstream: &str) -> String {
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || relay(client, &upstream));
        }
    });
    format!("http://{addr}")
}

fn relay(mut client: TcpStream, upstream: &str) {
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let armed = Arc::new(AtomicBool::new(false));
    let (mut c2, mut s2, armed2) = (client.try_clone().unwrap(), server.try_clone().unwrap(), armed.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = c2.read(&mut buf) {
            if n == 0 {
                break;
            }
            if String::from_utf8_lossy(&buf[..n]).contains("POST /api/chat") {
                armed2.store(true, Ordering::SeqCst);
            }
            if s2.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut sent_after_arm = 0;
    let mut buf = [0u8; 256];
    while let Ok(n) = server.read(&mut buf) {
        if n == 0 || client.write_all(&buf[..n]).is_err() {
            break;
        }
        if armed.load(Ordering::SeqCst) {
            sent_after_arm += n;
            if sent_after_arm > 600 {
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

#[test]
fn server_dying_mid_answer_fails_cleanly_and_saves_nothing() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("OLLAMA_IP", &start_cutting_proxy(&o.url));
    let r = env
        .run(&["chat", "--max-tokens", "40", "--session", "cut", "Tell me a long story about a dragon."])
        .fails_with(1);
    assert!(
        r.stderr.contains("stream ended before the final") || r.stderr.contains("connection to Ollama broke"),
        "{}",
        r.stderr
    );
    let s = env.run(&["--json", "sessions", "show", "cut"]).ok().json();
    assert_eq!(s["messages"], serde_json::json!([]), "a half answer must not be saved");
    let list = env.run(&["--json", "heuristics", "list"]).ok().json();
    let turns = list.as_array().unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0]["success"], false, "the failed interaction is recorded as an error");
    assert!(turns[0]["error"].is_string());
}

#[test]
fn two_processes_write_the_same_store_at_once() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let commands: Vec<Vec<String>> = (0..2)
        .map(|i| args(&["--session", "shared", &format!("Question {i}")]).into_iter().map(String::from).collect())
        .collect();
    for r in env.run_concurrently(&commands) {
        r.ok();
    }
    let s = env.run(&["--json", "sessions", "show", "shared"]).ok().json();
    assert_eq!(s["messages"].as_array().unwrap().len(), 4);
}

#[test]
fn models_pull_from_a_registry_and_remove() {
    let o = need!(ollama());
    let model = need!(common::service("VUHITRA_TEST_REGISTRY_MODEL", "the local OCI registry"));
    let env = TestEnv::with_ollama(&o);
    // Start from a state without the pulled name (ignore "not found").
    let _ = env.run(&["models", "rm", &model]);
    let r = env.run(&["models", "pull", "--insecure", &model]).ok();
    assert!(
        r.stderr.contains("pulling manifest"),
        "status lines go to stderr when it is not a terminal:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("success"), "{}", r.stderr);
    assert!(r.stdout.contains(&format!("pulled {model}")));
    let list = env.run(&["--json", "models", "list"]).ok().json();
    assert!(list.as_array().unwrap().iter().any(|m| m["name"] == format!("{model}:latest")), "{list}");

    // Pulling again is safe (and is how an interrupted pull resumes).
    let j = env.run(&["--json", "models", "pull", "--insecure", &model]).ok().json();
    assert_eq!(j["status"], "success");

    env.run(&["models", "rm", &model]).ok();
    let list = env.run(&["--json", "models", "list"]).ok().json();
    assert!(!list.as_array().unwrap().iter().any(|m| m["name"] == format!("{model}:latest")));

    let missing = model.replace("gemma3-270m", "not-in-registry");
    let r = env.run(&["models", "pull", "--insecure", &missing]).fails_with(1);
    assert!(r.stderr.contains("error:"), "{}", r.stderr);
}

#[test]
fn ctrl_c_during_an_answer_exits_130_and_saves_nothing() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.file("long.txt", "history ".repeat(3000));
    let child = env
        .cmd(&["chat", "--session", "stop", "-f", "long.txt", "Summarize."])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let s = env.run(&["--json", "sessions", "show", "stop"]).ok().json();
    assert_eq!(s["messages"], serde_json::json!([]));
}

#[test]
fn overall_timeout_names_the_setting_to_raise() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("OLLAMA_TIMEOUT", "1");
    env.file("long.txt", "history ".repeat(3000));
    let r = env.run(&["chat", "-f", "long.txt", "Summarize."]).fails_with(1);
    assert!(r.stderr.contains("did not answer within 1 s"), "{}", r.stderr);
    assert!(r.stderr.contains("OLLAMA_TIMEOUT"), "{}", r.stderr);
}

#[test]
fn models_show_reports_the_embedding_capability() {
    let o = need!(ollama());
    let model = need!(common::service("VUHITRA_TEST_EMBED_MODEL", "the embedding test model"));
    let env = TestEnv::with_ollama(&o);
    let show = env.run(&["--json", "models", "show", &model]).ok().json();
    assert_eq!(show["embedding"], true);
    assert_eq!(show["architecture"], "bert");
    assert_eq!(show["context_length"], 512);
}
