//! Remote services with TLS and credentials, on real servers that
//! scripts/services starts: nginx as a TLS proxy wanting a bearer token in
//! front of Ollama, Elasticsearch 8.11 with x-pack security (TLS on HTTP,
//! the elastic user), and Valkey with TLS and a password, all with
//! certificates from one test CA. Every failure must say what is wrong, and
//! no secret may appear in any output.

#[macro_use]
mod common;

use common::{ollama, service, Ollama, Run, TestEnv};

/// The secured servers and their secrets.
struct Secure {
    ca: String,
    other_ca: String,
    ollama_url: String,
    ollama_token: String,
    es_url: String,
    es_password: String,
    redis_url: String,
    redis_password: String,
}

fn secure() -> Option<Secure> {
    let what = "the TLS servers of scripts/services";
    Some(Secure {
        ca: service("VUHITRA_TEST_TLS_CA", what)?,
        other_ca: service("VUHITRA_TEST_TLS_OTHER_CA", what)?,
        ollama_url: service("VUHITRA_TEST_OLLAMA_TLS", what)?,
        ollama_token: service("VUHITRA_TEST_OLLAMA_API_KEY", what)?,
        es_url: service("VUHITRA_TEST_ELASTICSEARCH_TLS", what)?,
        es_password: service("VUHITRA_TEST_ELASTICSEARCH_PASSWORD", what)?,
        redis_url: service("VUHITRA_TEST_REDIS_TLS", what)?,
        redis_password: service("VUHITRA_TEST_REDIS_TLS_PASSWORD", what)?,
    })
}

fn port(url: &str) -> &str {
    url.rsplit(':').next().unwrap().trim_end_matches('/')
}

impl Secure {
    /// Every service over TLS with the right CA and credentials.
    fn env(&self, o: &Ollama) -> TestEnv {
        let mut env = TestEnv::new();
        env.set("MODEL", &o.model)
            .set("OLLAMA_IP", &self.ollama_url)
            .set("OLLAMA_CA_CERT", &self.ca)
            .set("OLLAMA_API_KEY", &self.ollama_token)
            .set("ELASTICSEARCH_URL", &self.es_url)
            .set("ELASTICSEARCH_CA_CERT", &self.ca)
            .set("ELASTICSEARCH_USERNAME", "elastic")
            .set("ELASTICSEARCH_PASSWORD", &self.es_password)
            .set("REDIS_URL", &self.redis_url)
            .set("REDIS_CA_CERT", &self.ca)
            .set("REDIS_PASSWORD", &self.redis_password);
        env
    }
}

/// Settings of one failure case, and the words its message must hold.
type Vars = Vec<(&'static str, String)>;
type Cases<W> = Vec<(Vars, Vec<W>)>;

fn with(mut env: TestEnv, vars: &Vars) -> TestEnv {
    for (k, v) in vars {
        env.set(k, v);
    }
    env
}

/// `extra`, plus a service's URL and the CA that signed its certificate.
fn trusting(url: (&'static str, &str), ca: (&'static str, &str), mut extra: Vars) -> Vars {
    extra.push((url.0, url.1.to_string()));
    extra.push((ca.0, ca.1.to_string()));
    extra
}

fn output(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// The doctor probe of one service (doctor exits 1 when one fails).
fn probe(env: &TestEnv, service: &str) -> serde_json::Value {
    let r = env.run(&["--json", "doctor"]);
    let all = r.json();
    all.as_array().unwrap().iter().find(|p| p["service"] == service).unwrap().clone()
}

#[test]
fn a_chat_runs_with_every_service_behind_tls_and_credentials() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let env = s.env(&o);
    for p in ["ollama", "elasticsearch", "redis"] {
        let pr = probe(&env, p);
        assert!(pr["status"] == "ok" || pr["status"] == "warn", "{pr}");
    }
    // Streamed through the proxy, recorded in the secured Elasticsearch.
    let r = env.run(&["chat", "--raw", "Say hello in two words"]).ok();
    assert!(!r.stdout.trim().is_empty(), "{}", r.stderr);
    let answer = env.run(&["--json", "chat", "--no-stream", "What is 2 and 2?"]).ok().json();
    let list = env.run(&["--json", "heuristics", "list"]).ok().json();
    assert!(list.as_array().unwrap().iter().any(|rec| rec["id"] == answer["id"]), "{list}");
    // A table cached in the TLS Redis and read back.
    env.file("t.csv", "a,b\n1,x\n2,y\n");
    let r = env.run(&["analyze", "t.csv", "--cache-key", "tls-t"]).ok();
    assert!(r.stderr.contains("cached as tls-t (2 rows"), "{}", r.stderr);
    let j = env.run(&["--json", "sql", "SELECT sum(a) AS s FROM t", "--table", "t=cache:tls-t"]).ok().json();
    assert_eq!(j, serde_json::json!([{"s": 3}]));
    env.run(&["data", "drop", "tls-t"]).ok();
}

#[test]
fn credentials_in_the_urls_work_too() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let mut env = TestEnv::with_ollama(&o);
    let es = s.es_url.replacen("https://", &format!("https://elastic:{}@", s.es_password), 1);
    let redis = s.redis_url.replacen("rediss://", &format!("rediss://:{}@", s.redis_password), 1);
    env.set("ELASTICSEARCH_URL", &es).set("ELASTICSEARCH_CA_CERT", &s.ca);
    env.set("REDIS_URL", &redis).set("REDIS_CA_CERT", &s.ca);
    assert_eq!(probe(&env, "elasticsearch")["status"], "ok");
    let r = probe(&env, "redis");
    assert_eq!(r["status"], "ok", "{r}");
    assert!(!r["target"].as_str().unwrap().contains(&s.redis_password), "{r}");
}

#[test]
fn ollama_tls_and_token_failures_name_the_problem() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let plain_port = port(&o.url);
    let tls_port = port(&s.ollama_url);
    let scratch = TestEnv::new();
    let not_pem = scratch.file("not-a-cert.pem", "hello");
    let cases: Cases<String> = vec![
        // No CA: the system roots do not know the test CA.
        (vec![("OLLAMA_IP", s.ollama_url.clone())], vec!["does not trust".into(), "set OLLAMA_CA_CERT".into()]),
        (
            vec![("OLLAMA_IP", s.ollama_url.clone()), ("OLLAMA_CA_CERT", s.other_ca.clone())],
            vec!["not signed by the CA in OLLAMA_CA_CERT=".into(), s.other_ca.clone()],
        ),
        (
            vec![("OLLAMA_IP", s.ollama_url.clone()), ("OLLAMA_CA_CERT", s.ca.clone())],
            vec!["refused the request (401)".into(), "missing or wrong bearer token".into(), "OLLAMA_API_KEY".into()],
        ),
        (
            vec![
                ("OLLAMA_IP", s.ollama_url.clone()),
                ("OLLAMA_CA_CERT", s.ca.clone()),
                ("OLLAMA_API_KEY", "wrong-token".into()),
            ],
            vec!["401".into(), "refused the credentials".into()],
        ),
        (
            vec![("OLLAMA_IP", format!("https://127.0.0.1:{plain_port}"))],
            vec!["does not speak TLS".into(), "use http://".into()],
        ),
        (
            vec![("OLLAMA_IP", format!("http://127.0.0.1:{tls_port}"))],
            vec!["expects TLS".into(), "use https://".into()],
        ),
        (
            vec![("OLLAMA_IP", s.ollama_url.clone()), ("OLLAMA_CA_CERT", not_pem.display().to_string())],
            vec!["holds no PEM certificate".into()],
        ),
        (
            vec![("OLLAMA_IP", s.ollama_url.clone()), ("OLLAMA_CA_CERT", "/nonexistent/ca.pem".into())],
            vec!["cannot read OLLAMA_CA_CERT=/nonexistent/ca.pem".into()],
        ),
    ];
    for (vars, wanted) in cases {
        let mut env = TestEnv::new();
        env.set("MODEL", &o.model);
        let env = with(env, &vars);
        let r = env.run(&["chat", "--raw", "hi"]).fails_with(1);
        for w in &wanted {
            assert!(r.stderr.contains(w.as_str()), "{vars:?}: wanted {w:?} in:\n{}", r.stderr);
        }
        assert!(!r.stderr.contains("wrong-token"), "{}", r.stderr);
    }
}

#[test]
fn elasticsearch_security_failures_name_the_problem() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let tls_port = port(&s.es_url);
    let plain = need!(common::elasticsearch());
    let user = |pw: &str| -> Vars {
        vec![("ELASTICSEARCH_USERNAME", "elastic".to_string()), ("ELASTICSEARCH_PASSWORD", pw.into())]
    };
    let with_ca = |extra| trusting(("ELASTICSEARCH_URL", &s.es_url), ("ELASTICSEARCH_CA_CERT", &s.ca), extra);
    let cases: Cases<&str> = vec![
        (vec![("ELASTICSEARCH_URL", s.es_url.clone())], vec!["does not trust", "set ELASTICSEARCH_CA_CERT"]),
        (with_ca(vec![]), vec!["401", "missing authentication credentials", "set ELASTICSEARCH_API_KEY"]),
        (
            with_ca(user("not-the-password")),
            vec!["401", "unable to authenticate user [elastic]", "refused the credentials"],
        ),
        // Not a key this cluster issued: refused with Elasticsearch's own message.
        (
            with_ca(vec![("ELASTICSEARCH_API_KEY", "bm90LWFuLWlkOm5vdC1hLWtleQ==".into())]),
            vec!["401", "unable to authenticate with provided credentials", "ELASTICSEARCH_API_KEY"],
        ),
        (vec![("ELASTICSEARCH_URL", format!("http://127.0.0.1:{tls_port}"))], vec!["if it expects TLS, use https://"]),
        (
            vec![("ELASTICSEARCH_URL", plain.replacen("http://", "https://", 1))],
            vec!["does not speak TLS", "use http://"],
        ),
    ];
    for (vars, wanted) in cases {
        let env = with(TestEnv::with_ollama(&o), &vars);
        let pr = probe(&env, "elasticsearch");
        assert_eq!(pr["status"], "fail", "{vars:?}: {pr}");
        // A command that needs the store fails the same way, with exit 1.
        let r = env.run(&["heuristics", "list"]).fails_with(1);
        for w in &wanted {
            assert!(r.stderr.contains(w), "{vars:?}: wanted {w:?} in:\n{}", r.stderr);
            assert!(pr["detail"].as_str().unwrap().contains(w), "{vars:?}: wanted {w:?} in {pr}");
        }
        assert!(!output(&r).contains("not-the-password") && !output(&r).contains("bm90LWFu"), "{}", output(&r));
    }
}

#[test]
fn redis_tls_and_password_failures_name_the_problem() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let tls_port = port(&s.redis_url);
    let plain = need!(common::redis());
    let with_ca = |extra| trusting(("REDIS_URL", &s.redis_url), ("REDIS_CA_CERT", &s.ca), extra);
    let cases: Cases<&str> = vec![
        (vec![("REDIS_URL", s.redis_url.clone())], vec!["does not trust", "set REDIS_CA_CERT"]),
        (
            vec![("REDIS_URL", s.redis_url.clone()), ("REDIS_CA_CERT", s.other_ca.clone())],
            vec!["not signed by the CA in REDIS_CA_CERT="],
        ),
        (with_ca(vec![]), vec!["refused the login", "NOAUTH", "set REDIS_PASSWORD"]),
        (
            with_ca(vec![("REDIS_PASSWORD", "not-the-password".into())]),
            vec!["refused the login", "check REDIS_PASSWORD"],
        ),
        (
            vec![("REDIS_URL", format!("redis://127.0.0.1:{tls_port}")), ("REDIS_PASSWORD", s.redis_password.clone())],
            vec!["if it expects TLS, use rediss://"],
        ),
        (vec![("REDIS_URL", plain.replacen("redis://", "rediss://", 1))], vec!["use redis:// in REDIS_URL"]),
    ];
    for (vars, wanted) in cases {
        let env = with(TestEnv::with_ollama(&o), &vars);
        env.file("t.csv", "a\n1\n");
        let r = env.run(&["analyze", "t.csv", "--cache-key", "k"]).fails_with(1);
        let pr = probe(&env, "redis");
        assert_eq!(pr["status"], "fail", "{vars:?}: {pr}");
        for w in &wanted {
            assert!(r.stderr.contains(w), "{vars:?}: wanted {w:?} in:\n{}", r.stderr);
            assert!(pr["detail"].as_str().unwrap().contains(w), "{vars:?}: wanted {w:?} in {pr}");
        }
        assert!(!output(&r).contains("not-the-password"), "{}", output(&r));
    }
}

/// Every secret, right or wrong, set through the environment and `.env`,
/// then every command that prints configuration, probes, errors, logs or
/// records: none of the secrets may appear, in any output or in the store.
#[test]
fn secrets_never_appear_in_any_output() {
    let (o, s) = (need!(ollama()), need!(secure()));
    let mut good = s.env(&o);
    good.set("LOG_LEVEL", "TRACE");
    let wrong = ["wrong-token-1d9c", "wrong-es-pw-77a1", "wrong-redis-pw-5e0b", "d3Jvbmc6a2V5LTkxZjI="];
    let mut bad = TestEnv::with_ollama(&o);
    bad.set("LOG_LEVEL", "TRACE");
    bad.set("OLLAMA_API_KEY", wrong[0]);
    bad.set("ELASTICSEARCH_URL", &s.es_url.replacen("https://", &format!("https://elastic:{}@", wrong[1]), 1));
    bad.set("ELASTICSEARCH_CA_CERT", &s.ca);
    bad.set("REDIS_URL", &s.redis_url.replacen("rediss://", &format!("rediss://:{}@", wrong[2]), 1));
    bad.set("REDIS_CA_CERT", &s.ca);
    bad.file(".env", format!("ELASTICSEARCH_API_KEY={}\nREDIS_PASSWORD={}\n", wrong[3], wrong[2]));
    bad.file("t.csv", "a\n1\n");
    good.file("t.csv", "a\n1\n");
    let secrets = [s.ollama_token.as_str(), &s.es_password, &s.redis_password, wrong[0], wrong[1], wrong[2], wrong[3]];

    let commands: &[&[&str]] = &[
        &["config", "show"],
        &["--json", "config", "show"],
        &["config", "validate", "--services"],
        &["doctor"],
        &["--json", "doctor"],
        &["info"],
        &["chat", "--raw", "Say hi"],
        &["--json", "chat", "Say hi"],
        &["--json", "heuristics", "list"],
        &["analyze", "t.csv", "--cache-key", "secret-check"],
        &["--json", "data", "list"],
    ];
    for env in [&good, &bad] {
        for args in commands {
            let r = env.run(args);
            let text = output(&r);
            for secret in secrets {
                assert!(!text.contains(secret), "{args:?} printed a secret:\n{text}");
            }
        }
        // Nor is one written into the store (heuristics records, sessions).
        for entry in walk(env.home.path()) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            for secret in secrets {
                assert!(!contains(&bytes, secret.as_bytes()), "{} holds a secret", entry.display());
            }
        }
    }
    // The good configuration did work (the check above is not vacuous).
    let shown = good.run(&["--json", "config", "show"]).ok().json();
    let key = shown.as_array().unwrap().iter().find(|k| k["key"] == "OLLAMA_API_KEY").unwrap().clone();
    assert_eq!(key["value"], "****");
    good.run(&["data", "drop", "secret-check"]).ok();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
