//! `doctor` and `config validate --services` against real Redis servers:
//! Valkey 8 (Redis 7.2 protocol) passes, Debian's Redis 7.0 is too old.

mod common;

use common::{old_redis, ollama, redis, TestEnv};

fn probe<'a>(probes: &'a serde_json::Value, service: &str) -> &'a serde_json::Value {
    probes.as_array().unwrap().iter().find(|p| p["service"] == service).unwrap()
}

#[test]
fn doctor_accepts_redis_7_2_and_reports_its_version() {
    let (Some(o), Some(url)) = (ollama(), redis()) else { return };
    let mut env = TestEnv::with_ollama(&o);
    env.set("REDIS_URL", &url);
    let probes = env.run(&["--json", "doctor"]).ok().json();
    let r = probe(&probes, "redis");
    assert_eq!(r["status"], "ok", "{r}");
    assert!(r["version"].as_str().unwrap().starts_with("7.2"), "{r}");
    assert!(r["latency_ms"].as_f64().is_some());
}

#[test]
fn doctor_rejects_redis_older_than_7_2() {
    let (Some(o), Some(url)) = (ollama(), old_redis()) else { return };
    let mut env = TestEnv::with_ollama(&o);
    env.set("REDIS_URL", &url);
    let r = env.run(&["doctor"]).fails_with(1);
    assert!(r.stdout.contains("older than the required 7.2"), "{}", r.stdout);
    assert!(r.stderr.contains("redis"), "{}", r.stderr);
}

#[test]
fn validate_with_services_checks_reachability() {
    let (Some(o), Some(url)) = (ollama(), redis()) else { return };
    let mut env = TestEnv::with_ollama(&o);
    env.set("REDIS_URL", &url);
    let r = env.run(&["config", "validate", "--services"]).ok();
    assert!(r.stdout.contains("configuration is valid"), "{}", r.stdout);
    assert!(r.stdout.contains("redis") && r.stdout.contains(" ms"), "{}", r.stdout);

    env.set("REDIS_URL", "redis://127.0.0.1:9");
    let r = env.run(&["config", "validate", "--services"]).fails_with(1);
    assert!(r.stdout.contains("FAIL"), "{}", r.stdout);
}

#[test]
fn doctor_reports_elasticsearch_version_and_cluster_health() {
    let (Some(o), Some(url)) = (ollama(), common::elasticsearch()) else { return };
    let mut env = TestEnv::with_ollama(&o);
    env.set("ELASTICSEARCH_URL", &url);
    let probes = env.run(&["--json", "doctor"]).ok().json();
    let es = probe(&probes, "elasticsearch");
    assert_eq!(es["status"], "ok", "{es}");
    assert_eq!(es["version"], "8.11.0");
    let detail = es["detail"].as_str().unwrap();
    assert!(detail == "cluster green" || detail == "cluster yellow", "{detail}");
}
