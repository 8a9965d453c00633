//! Prompt intelligence end to end: heuristics written by real chat turns,
//! feedback, stats, routing, corrections, and the prompt cache, on the
//! embedded store and on the real Elasticsearch scripts/test starts.

#[macro_use]
mod common;

use common::{elasticsearch, http, ollama, Ollama, TestEnv};
use serde_json::{json, Value};

const SHORT: &[&str] = &["--max-tokens", "8", "--seed", "7", "--temperature", "0"];

fn chat<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--json", "chat"];
    v.extend_from_slice(SHORT);
    v.extend_from_slice(extra);
    v
}

/// A test env whose heuristics and cache live in the real Elasticsearch,
/// under a prefix of its own; the indices are dropped when it goes.
struct EsEnv {
    env: TestEnv,
    url: String,
    prefix: String,
}

impl EsEnv {
    fn new(o: &Ollama, es: &str, tag: &str) -> EsEnv {
        let prefix = format!("vuhitra-e2e-{tag}-{}", std::process::id());
        let mut env = TestEnv::with_ollama(o);
        env.set("ELASTICSEARCH_URL", es).set("ELASTICSEARCH_INDEX_PREFIX", &prefix);
        EsEnv { env, url: es.trim_end_matches('/').to_string(), prefix }
    }

    fn count(&self, store: &str, query: Value) -> u64 {
        let url = format!("{}/{}-{store}/_count", self.url, self.prefix);
        let (status, body) = http("POST", &url, Some(json!({ "query": query })));
        assert_eq!(status, 200, "{body}");
        body["count"].as_u64().unwrap()
    }
}

impl Drop for EsEnv {
    fn drop(&mut self) {
        for store in ["heuristics", "prompt-cache"] {
            let _ = http("DELETE", &format!("{}/{}-{store}-v1", self.url, self.prefix), None);
            let _ = http("DELETE", &format!("{}/_index_template/{}-{store}", self.url, self.prefix), None);
        }
    }
}

fn embed_model() -> String {
    std::env::var("VUHITRA_TEST_EMBED_MODEL").unwrap_or_else(|_| "all-minilm-test".into())
}

#[test]
fn answers_are_recorded_rated_and_summarised() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.run(&chat(&["What is the capital of France?"])).ok();
    let second = env.run(&chat(&["Write a Python function that reverses a string"])).ok().json();
    let id = second["id"].as_str().unwrap().to_string();

    // Without an id, the last answer is rated.
    env.run(&["rate", "4"]).ok();
    let shown = env.run(&["--json", "heuristics", "show", &id[..8]]).ok().json();
    assert_eq!(shown["rating"], 4);
    assert_eq!(shown["intent"], "code");
    env.run(&["rate", &id, "1", "--correction", "Use slicing: s[::-1]"]).ok();
    let shown = env.run(&["--json", "heuristics", "show", &id]).ok().json();
    assert_eq!((shown["rating"].clone(), shown["correction"].clone()), (json!(1), json!("Use slicing: s[::-1]")));

    let bad = env.run(&["rate", &id, "7"]).fails_with(2);
    assert!(bad.stderr.contains("0 to 5"), "{}", bad.stderr);
    let missing = env.run(&["rate", "ffffffff", "3"]).fails_with(1);
    assert!(missing.stderr.contains("heuristics list"), "the hint says where ids are: {}", missing.stderr);

    let stats = env.run(&["--json", "heuristics", "stats"]).ok().json();
    let code = stats["by_intent"].as_array().unwrap().iter().find(|g| g["key"] == "code").unwrap().clone();
    assert_eq!(
        (code["count"].clone(), code["successes"].clone(), code["mean_rating"].clone()),
        (json!(1), json!(1), json!(1.0))
    );
    assert!(code["p50_ms"].as_f64().unwrap() > 0.0 && code["mean_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(stats["by_model"][0]["count"], 2);
    let text = env.run(&["heuristics", "stats"]).ok().stdout;
    assert!(text.contains("INTENT") && text.contains("MODEL") && text.contains("P95 MS"), "{text}");

    let out = env.cwd.path().join("h.jsonl");
    env.run(&["heuristics", "export", "--output", out.to_str().unwrap()]).ok();
    let lines: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["id"], id.as_str(), "exported oldest first");

    env.run(&["heuristics", "clear"]).fails_with(2); // not a terminal: needs --yes
    let cleared = env.run(&["--json", "heuristics", "clear", "--yes"]).ok().json();
    assert_eq!(cleared["deleted"], 2);
    assert_eq!(env.run(&["--json", "heuristics", "list"]).ok().json(), json!([]));
}

/// Moves every embedded heuristics record `days` into the past.
fn age_records(env: &TestEnv, days: i64) {
    let db = env.home.path().join("vuhitra.db");
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('UPDATE heuristics SET created_at = created_at - {}'); c.commit()",
        db.display().to_string(),
        days * 86_400_000
    );
    assert!(std::process::Command::new("python3").args(["-c", &script]).status().unwrap().success());
}

#[test]
fn records_older_than_the_retention_are_deleted_at_most_once_a_day() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    env.run(&chat(&["one"])).ok();
    let marker = env.home.path().join("heuristics-pruned");
    assert!(marker.is_file(), "the first run prunes (nothing yet) and notes when");
    age_records(&env, 100);
    env.run(&chat(&["two"])).ok();
    // A day later, the first command that opens heuristics prunes: the
    // default retention is 90 days.
    let a_day_ago = std::process::Command::new("touch").args(["-d", "25 hours ago"]).arg(&marker).status().unwrap();
    assert!(a_day_ago.success());
    let list = env.run(&["--json", "heuristics", "list"]).ok().json();
    let prompts: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["prompt"].as_str().unwrap()).collect();
    assert_eq!(prompts, ["two"], "the 100-day-old record is gone, the new one stays");
    // Once a day: within the day, an aged record waits for the next prune.
    age_records(&env, 100);
    assert_eq!(env.run(&["--json", "heuristics", "list"]).ok().json().as_array().unwrap().len(), 1);
    // HEURISTICS_RETENTION=0 keeps everything, however old.
    std::fs::remove_file(&marker).unwrap();
    let mut forever = TestEnv::with_ollama(&o);
    forever.home = env.home;
    forever.set("HEURISTICS_RETENTION", "0");
    assert_eq!(forever.run(&["--json", "heuristics", "list"]).ok().json().as_array().unwrap().len(), 1);
    assert!(!forever.home.path().join("heuristics-pruned").exists());
}

#[test]
fn heuristics_can_be_turned_off() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("ENABLE_HEURISTICS", "false");
    let j = env.run(&chat(&["Say hi"])).ok().json();
    assert_eq!(j["id"], Value::Null);
    assert_eq!(env.run(&["--json", "heuristics", "list"]).ok().json(), json!([]));
}

#[test]
fn the_cache_answers_rewordings_and_refuses_near_duplicates() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("ENABLE_PROMPT_CACHE", "true").set("EMBED_MODEL", &embed_model());
    let first = env.run(&chat(&["How do I sort a list in Python?"])).ok().json();
    assert_eq!(first["cached"], false);
    let again = env.run(&chat(&["how to sort python list"])).ok();
    let j = again.json();
    assert_eq!(j["cached"], true, "a rewording is answered from the cache: {j}");
    assert_eq!(j["answer"], first["answer"]);
    assert_eq!(j["cache"]["cached_prompt"], "How do I sort a list in Python?");
    assert_eq!(j["cache"]["exact"], true, "same nlp signature");

    for near in
        ["How do I not sort a list in Python?", "How do I sort a list in Rust?", "How do I sort 3 lists in Python?"]
    {
        let j = env.run(&chat(&[near])).ok().json();
        assert_eq!(j["cached"], false, "{near} must not reuse the cached answer");
    }
    let skip = env.run(&chat(&["@nocache how to sort python list"])).ok().json();
    assert_eq!(skip["cached"], false, "@nocache skips the lookup");
    // Another temperature class is another answer.
    let hot = env
        .run(&["--json", "chat", "--max-tokens", "8", "--temperature", "1.5", "how to sort python list"])
        .ok()
        .json();
    assert_eq!(hot["cached"], false);

    // Plain output marks a cached answer on stderr.
    let plain = env
        .run(&["chat", "--max-tokens", "8", "--seed", "7", "--temperature", "0", "How do I sort a list in Python"])
        .ok();
    assert!(plain.stderr.contains("cached answer"), "{}", plain.stderr);

    let stats = env.run(&["--json", "cache", "stats"]).ok().json();
    assert_eq!(stats["hits"], 2, "{stats}");
    assert_eq!(stats["misses"], 5, "{stats}");
    assert!(stats["mean_hit_ms"].is_number() && stats["mean_miss_ms"].is_number());
    let list = env.run(&["--json", "cache", "list"]).ok().json();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 5, "{list}");
    let sorted = entries.iter().find(|e| e["prompt"] == "How do I sort a list in Python?").unwrap();
    assert_eq!(sorted["hit_count"], 2);
    let negated = entries.iter().find(|e| e["prompt"] == "How do I not sort a list in Python?").unwrap();
    assert_eq!(negated["negated"], true);

    env.run(&["cache", "rm", sorted["id"].as_str().unwrap()]).ok();
    assert_eq!(env.run(&chat(&["how to sort python list"])).ok().json()["cached"], false);
    let status = env.run(&["--json", "cache", "status"]).ok().json();
    assert_eq!((status["enabled"].clone(), status["entries"].clone()), (json!(true), json!(5)));
    env.run(&["cache", "rm", "ffffffff"]).fails_with(1);
    assert_eq!(env.run(&["--json", "cache", "clear", "--yes"]).ok().json()["deleted"], 5);
}

#[test]
fn cache_is_off_by_default_and_at_cache_forces_it() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("EMBED_MODEL", "none");
    env.run(&chat(&["Name a prime number"])).ok();
    assert_eq!(env.run(&chat(&["Name a prime number"])).ok().json()["cached"], false, "off by default");
    env.run(&chat(&["@cache Name a prime number"])).ok();
    let j = env.run(&chat(&["@cache name a prime number"])).ok().json();
    assert_eq!(j["cached"], true, "@cache stores and looks up even when the cache is off");
    let expired = {
        let mut e = TestEnv::with_ollama(&o);
        e.home = env.home;
        e.set("PROMPT_CACHE_TTL", "1s").set("EMBED_MODEL", "none");
        e.run(&chat(&["@cache Name an even number"])).ok();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        e.run(&chat(&["@cache Name an even number"])).ok().json()
    };
    assert_eq!(expired["cached"], false, "an entry past its TTL is not served");
}

#[test]
fn missing_embedding_model_falls_back_to_words() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("ENABLE_PROMPT_CACHE", "true").set("EMBED_MODEL", "no-such-embedder");
    let r = env.run(&chat(&["What does HTTP stand for?"])).ok();
    assert!(r.stderr.contains("EMBED_MODEL no-such-embedder is not installed"), "{}", r.stderr);
    assert_eq!(env.run(&chat(&["what does http stand for"])).ok().json()["cached"], true);
}

#[test]
fn intents_route_to_their_models_and_flags_win() {
    let o = need!(ollama());
    // A second model name for the same weights (Ollama's copy is instant).
    let (status, body) = http(
        "POST",
        &format!("{}/api/copy", o.url),
        Some(json!({"source": o.model, "destination": "vuhitra-coder-test"})),
    );
    assert_eq!(status, 200, "{body}");
    let mut env = TestEnv::with_ollama(&o);
    env.set("MODEL_CODE", "vuhitra-coder-test");
    let code = env.run(&chat(&["Write a Rust function that adds two numbers"])).ok().json();
    assert_eq!((code["model"].clone(), code["routed"].clone()), (json!("vuhitra-coder-test"), json!(true)));
    let question = env.run(&chat(&["What is the capital of Italy?"])).ok().json();
    assert_eq!((question["model"].clone(), question["routed"].clone()), (json!(o.model.clone()), json!(false)));
    let pinned = env.run(&chat(&["--model", &o.model, "Write a Rust function that adds two numbers"])).ok().json();
    assert_eq!(pinned["model"], o.model.as_str(), "--model wins over routing");
    let stats = env.run(&["--json", "heuristics", "stats", "--by", "model"]).ok().json();
    assert_eq!(stats["by_model"].as_array().unwrap().len(), 2);
}

#[test]
fn corrections_of_poorly_rated_similar_prompts_reach_the_model() {
    let o = need!(ollama());
    let env = TestEnv::with_ollama(&o);
    let first = env.run(&chat(&["How do I reverse a list in Python?"])).ok().json();
    let id = first["id"].as_str().unwrap();
    env.run(&["rate", id, "1", "--correction", "Use reversed() or slicing, not a loop."]).ok();
    let similar = env.run(&chat(&["how to reverse a python list"])).ok();
    assert_eq!(similar.json()["corrections_applied"], json!([id]));
    let plain = env.run(&["chat", "--max-tokens", "8", "how to reverse a python list"]).ok();
    assert!(plain.stderr.contains(&format!("correction from record {id}")), "{}", plain.stderr);
    let other = env.run(&chat(&["How do I reverse a list in Rust?"])).ok().json();
    assert_eq!(other["corrections_applied"], json!([]), "another language: the correction does not apply");
    let mut off = TestEnv::with_ollama(&o);
    off.home = env.home;
    off.set("SHOW_CORRECTIONS", "false");
    assert_eq!(off.run(&chat(&["how to reverse a python list"])).ok().json()["corrections_applied"], json!([]));
}

#[test]
fn elasticsearch_holds_heuristics_and_cache_entries_from_real_chats() {
    let o = need!(ollama());
    let es = need!(elasticsearch());
    let mut e = EsEnv::new(&o, &es, "chat");
    e.env.set("ENABLE_PROMPT_CACHE", "true").set("EMBED_MODEL", &embed_model());
    let first = e.env.run(&chat(&["Explain what a Python decorator does"])).ok().json();
    let hit = e.env.run(&chat(&["what does a decorator do in python"])).ok().json();
    assert_eq!(hit["cached"], true, "{hit}");
    assert_eq!(hit["answer"], first["answer"]);

    assert_eq!(e.count("heuristics", json!({"match_all": {}})), 2);
    assert_eq!(e.count("heuristics", json!({"term": {"cache": "hit"}})), 1);
    assert_eq!(e.count("prompt-cache", json!({"exists": {"field": "vec_384"}})), 1, "the embedding is a dense_vector");
    let (_, mapping) = http("GET", &format!("{}/{}-prompt-cache/_mapping", e.url, e.prefix), None);
    let index = mapping.as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(index, format!("{}-prompt-cache-v1", e.prefix), "a versioned index behind the alias");
    assert_eq!(mapping[&index]["mappings"]["properties"]["vec_384"]["type"], "dense_vector");

    e.env.run(&["rate", first["id"].as_str().unwrap(), "5"]).ok();
    let stats = e.env.run(&["--json", "heuristics", "stats"]).ok().json();
    let by_model = &stats["by_model"].as_array().unwrap()[0];
    assert_eq!((by_model["count"].clone(), by_model["successes"].clone()), (json!(2), json!(2)), "{stats}");
    assert_eq!(by_model["mean_rating"], 5.0);
    let list = e.env.run(&["--json", "heuristics", "list"]).ok().json();
    assert_eq!(list[1]["id"], first["id"]);
    let status = e.env.run(&["--json", "cache", "status"]).ok().json();
    assert!(status["backend"].as_str().unwrap().starts_with("Elasticsearch"), "{status}");
    assert_eq!(status["entries"], 1);
}

#[test]
fn elasticsearch_down_at_start_is_a_clear_error() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("ELASTICSEARCH_URL", "http://127.0.0.1:9");
    for args in [chat(&["Say hi"]), vec!["heuristics", "list"], vec!["cache", "status"]] {
        let r = env.run(&args).fails_with(1);
        let text = format!("{}{}", r.stdout, r.stderr);
        assert!(text.contains("ELASTICSEARCH_URL=http://127.0.0.1:9"), "{text}");
        assert!(text.contains("unset ELASTICSEARCH_URL"), "the hint says how to go embedded: {text}");
    }
}

#[test]
fn a_record_elasticsearch_refuses_is_kept_and_sent_later() {
    let o = need!(ollama());
    let es = need!(elasticsearch());
    let e = EsEnv::new(&o, &es, "queue");
    e.env.run(&["heuristics", "list"]).ok(); // creates the indices
    let index = format!("{}/{}-heuristics-v1/_settings", e.url, e.prefix);
    let (status, body) = http("PUT", &index, Some(json!({"index.blocks.write": true})));
    assert_eq!(status, 200, "{body}");

    let r = e.env.run(&chat(&["What is 2 + 2?"])).ok();
    assert!(!r.json()["answer"].as_str().unwrap().is_empty(), "the user still gets the answer");
    assert!(r.stderr.contains("kept locally"), "{}", r.stderr);
    assert_eq!(e.count("heuristics", json!({"match_all": {}})), 0);

    http("PUT", &index, Some(json!({"index.blocks.write": false})));
    let list = e.env.run(&["--json", "heuristics", "list"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1, "the queued record was sent on the next run");
    assert_eq!(list[0]["prompt"], "What is 2 + 2?");
    assert_eq!(e.count("heuristics", json!({"match_all": {}})), 1);
    e.env.run(&["heuristics", "list"]).ok();
    assert_eq!(e.count("heuristics", json!({"match_all": {}})), 1, "sent once");
}

#[test]
fn cache_eval_scores_labelled_pairs() {
    let o = need!(ollama());
    let mut env = TestEnv::with_ollama(&o);
    env.set("EMBED_MODEL", &embed_model());
    let pairs = env.file(
        "pairs.jsonl",
        [
            r#"{"a": "How do I sort a list in Python?", "b": "how to sort python list", "expect": "hit", "kind": "reword"}"#,
            r#"{"a": "Show the first 10 rows", "b": "Show the first 100 rows", "expect": "miss", "kind": "number"}"#,
            r#"{"a": "convert celsius to fahrenheit", "b": "convert fahrenheit to celsius", "expect": "miss", "kind": "opposite"}"#,
        ]
        .join("\n"),
    );
    let j = env.run(&["--json", "cache", "eval", pairs.to_str().unwrap()]).ok().json();
    assert_eq!(
        (j["pairs"].clone(), j["precision"].clone(), j["recall"].clone()),
        (json!(3), json!(1.0), json!(1.0)),
        "{j}"
    );
    assert_eq!(j["embed_model"], embed_model().as_str());
    env.file("bad.jsonl", "{\"a\": \"x\"}\n");
    let r = env.run(&["cache", "eval", "bad.jsonl"]).fails_with(2);
    assert!(r.stderr.contains("bad.jsonl:1"), "{}", r.stderr);
}

/// Real chat turns with MODEL_CHAT naming two installed small models (the
/// test model and the tools test model, SmolLM2-135M) and one that is not
/// installed. Each turn's route note must show the records of the turns
/// before it; rating one model's answers 0 and the other's 5 must move the
/// choice to the second; `heuristics why` and `stats` must say so.
fn turns_route_and_learn(env: &mut TestEnv, o: &Ollama) {
    let second = need!(common::service("VUHITRA_TEST_TOOLS_MODEL", "a second small model"));
    let missing = "vuhitra-route-not-installed";
    let names = [o.model.clone(), second.clone(), missing.to_string()];
    env.set("MODEL_CHAT", &names.join(","));
    let base = |m: &str| m.trim_end_matches(":latest").to_string();
    let greetings =
        ["Hello there, good morning!", "hey, thanks a lot", "hi! cool", "Hello, great evening", "thanks, bye"];
    let mut calls = [0u64; 2];
    let mut last_id = String::new();
    for (turn, greeting) in greetings.iter().cycle().take(10).enumerate() {
        let t = env.run(&chat(&[greeting])).ok().json();
        assert_eq!(t["analysis"]["intent"], "chat", "turn {turn}: {t}");
        let route = &t["route"];
        assert_eq!((route["setting"].as_str(), route["rule"].as_str()), (Some("MODEL_CHAT"), Some("learned")), "{t}");
        let candidates = route["candidates"].as_array().unwrap();
        let listed: Vec<String> = candidates.iter().map(|c| c["model"].as_str().unwrap().to_string()).collect();
        assert_eq!(listed, names, "every candidate, in the setting's order");
        assert_eq!(candidates[2]["installed"], false, "{t}");
        assert!(candidates[2]["sample"].is_null(), "a model that is not installed gets no draw: {t}");
        for (i, c) in candidates[..2].iter().enumerate() {
            assert_eq!(c["installed"], true, "{t}");
            assert_eq!(c["outcomes"]["calls"], calls[i], "turn {turn}: the records of the turns before it: {t}");
        }
        let draws: Vec<f64> = candidates[..2].iter().map(|c| c["sample"].as_f64().unwrap()).collect();
        let winner = if draws[0] >= draws[1] { 0 } else { 1 };
        assert_eq!(base(t["model"].as_str().unwrap()), base(&names[winner]), "the highest draw answers: {t}");
        assert!(route["decide_ms"].as_f64().unwrap() >= 0.0);
        calls[winner] += 1;
        // The test model's answers are rated 0, SmolLM2's 5.
        last_id = t["id"].as_str().unwrap().to_string();
        env.run(&["rate", &last_id, if winner == 0 { "0" } else { "5" }]).ok();
    }
    assert!(calls[1] >= 5, "after ratings of 0, the other candidate takes over: {calls:?}");

    let why = env.run(&["--json", "heuristics", "why", &last_id]).ok().json();
    assert_eq!(why["rule"], "learned", "{why}");
    assert!(why["reason"].as_str().unwrap().contains("MODEL_CHAT"), "{why}");
    let probability: f64 =
        why["candidates"].as_array().unwrap().iter().map(|c| c["choice_probability"].as_f64().unwrap()).sum();
    assert!((probability - 1.0).abs() < 1e-9, "{why}");
    let text = env.run(&["heuristics", "why", &last_id]).ok().stdout;
    assert!(text.contains("CANDIDATE") && text.contains(missing) && text.contains("deciding took"), "{text}");

    let stats = env.run(&["--json", "heuristics", "stats"]).ok().json();
    let routing = stats["routing"].as_array().unwrap();
    let chat_route = routing.iter().find(|r| r["setting"] == "MODEL_CHAT").expect("MODEL_CHAT in routing");
    let p: Vec<f64> = chat_route["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["choice_probability"].as_f64().unwrap())
        .collect();
    assert!(p[1] > 0.8 && p[2] == 0.0, "rated 5 against rated 0, and one not installed: {p:?} {chat_route}");
    assert_eq!(chat_route["candidates"][1]["outcomes"]["rated"], calls[1], "{chat_route}");

    let pinned = env.run(&chat(&["--model", &o.model, "hello, thanks"])).ok().json();
    assert!(pinned["route"].is_null() && pinned["routed"] == false, "--model wins: {pinned}");
}

#[test]
fn chat_turns_route_among_installed_models_and_learn_from_ratings() {
    let o = need!(ollama());
    turns_route_and_learn(&mut TestEnv::with_ollama(&o), &o);
}

#[test]
fn routing_learns_from_records_in_elasticsearch() {
    let o = need!(ollama());
    let es = need!(elasticsearch());
    let mut e = EsEnv::new(&o, &es, "route");
    turns_route_and_learn(&mut e.env, &o);
    let routed = e.count("heuristics", json!({"term": {"intent": "chat"}}));
    assert_eq!(routed, 11, "ten routed turns and the pinned one");
}
