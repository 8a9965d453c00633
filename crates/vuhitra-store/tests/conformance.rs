//! One conformance suite for the `HeuristicsStore` and `PromptCache`
//! traits, run against every backend: the embedded SQLite store and a real
//! Elasticsearch (VUHITRA_TEST_ELASTICSEARCH, started by scripts/test).

use std::time::Duration;

use vuhitra_store::elastic::ElasticStore;
use vuhitra_store::*;

fn record(id: &str, at: i64, intent: &str, model: &str, ok: bool, total_ms: f64, terms: &str) -> HeuristicRecord {
    HeuristicRecord {
        id: id.into(),
        created_at: at,
        session: Some("work".into()),
        model: model.into(),
        prompt: format!("prompt about {terms}"),
        terms: terms.into(),
        signature: format!("sig-{id}"),
        intent: intent.into(),
        intent_confidence: 0.8,
        entities: vec!["name:Python".into()],
        sentiment: 0.1,
        success: ok,
        error: (!ok).then(|| "model not found".into()),
        cache: Some("miss".into()),
        prompt_tokens: 10,
        response_tokens: 20,
        total_ms,
        load_ms: 1.5,
        prompt_eval_ms: 2.5,
        eval_ms: 3.5,
        tokens_per_second: ok.then_some(40.0),
        context_hashes: vec!["abc".into()],
        ..Default::default()
    }
}

async fn heuristics_suite(s: &impl HeuristicsStore) {
    s.clear_records().await.unwrap();
    let t0 = 1_700_000_000_000;
    let recs = [
        record("aaaa00000000001a", t0, "code", "coder", true, 100.0, "sort list python"),
        record("aaaa00000000002b", t0 + 1, "code", "coder", false, 300.0, "fix rust borrow error"),
        record("bbbb00000000003c", t0 + 2, "code", "general", true, 200.0, "write sql join"),
        record("cccc00000000004d", t0 + 3, "chat", "general", true, 50.0, "hello there"),
        record("dddd00000000005e", t0 + 4, "chat", "general", true, 70.0, "sort list python quick"),
    ];
    for r in &recs {
        s.record(r).await.unwrap();
    }
    s.record(&recs[0]).await.expect("recording the same id again is accepted");

    let all = s.records(&RecordFilter::default()).await.unwrap();
    assert_eq!(all.len(), 5, "a re-sent record is not duplicated");
    assert_eq!(all[0], recs[4], "newest first, every field round-trips");
    assert_eq!(all[4], recs[0]);
    let two = s.records(&RecordFilter { limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(two.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["dddd00000000005e", "cccc00000000004d"]);
    let code = s.records(&RecordFilter { intent: Some("code".into()), ..Default::default() }).await.unwrap();
    assert_eq!(code.len(), 3);
    let general = s.records(&RecordFilter { model: Some("general".into()), ..Default::default() }).await.unwrap();
    assert_eq!(general.len(), 3);

    assert_eq!(s.record_by_id("bbbb").await.unwrap().id, "bbbb00000000003c", "a unique prefix names a record");
    assert!(matches!(s.record_by_id("aaaa").await, Err(StoreError::AmbiguousId { count: 2, .. })));
    assert!(matches!(s.record_by_id("ffff").await, Err(StoreError::NoSuchId { .. })));

    s.rate("aaaa00000000001a", 1, Some("use sorted() for a new list"), t0 + 10).await.unwrap();
    s.rate("dddd", 2, None, t0 + 11).await.unwrap();
    s.rate("cccc", 5, Some("fine"), t0 + 12).await.unwrap();
    let rated = s.record_by_id("aaaa00000000001a").await.unwrap();
    assert_eq!(
        (rated.rating, rated.correction.as_deref(), rated.rated_at),
        (Some(1), Some("use sorted() for a new list"), Some(t0 + 10))
    );
    s.rate("aaaa00000000001a", 2, None, t0 + 13).await.unwrap();
    let again = s.record_by_id("aaaa00000000001a").await.unwrap();
    assert_eq!(
        (again.rating, again.correction.as_deref()),
        (Some(2), Some("use sorted() for a new list")),
        "a rating without a correction keeps the earlier one"
    );
    assert!(matches!(s.rate("ffff", 3, None, t0).await, Err(StoreError::NoSuchId { .. })));

    let by_intent = s.stats(GroupBy::Intent).await.unwrap();
    assert_eq!(by_intent.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["chat", "code"]);
    let code = &by_intent[1];
    assert_eq!((code.count, code.successes, code.rated), (3, 2, 1));
    assert!((code.success_rate() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(code.p50_ms, Some(200.0));
    let p95 = code.p95_ms.unwrap();
    assert!((200.0..=300.0).contains(&p95), "p95 {p95}");
    assert_eq!(code.mean_tokens_per_second, Some(40.0));
    assert_eq!(code.mean_rating, Some(2.0));
    let chat = &by_intent[0];
    assert_eq!((chat.count, chat.rated, chat.mean_rating), (2, 2, Some(3.5)));
    let by_model = s.stats(GroupBy::Model).await.unwrap();
    assert_eq!(by_model.iter().map(|g| (g.key.as_str(), g.count)).collect::<Vec<_>>(), [("coder", 2), ("general", 3)]);

    // Only poorly rated records with a correction are offered, best match first.
    let found = s.corrections("python sort list", 2, 5).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["aaaa00000000001a"]);
    assert!(s.corrections("hello there", 2, 5).await.unwrap().is_empty(), "rated 5: not a correction to show");
    assert!(s.corrections("", 2, 5).await.unwrap().is_empty());

    // Routing's outcomes per model: answers from the cache are not the
    // model's; a slow unrated success is counted apart when there is a budget.
    let mut hit = record("eeee00000000006f", t0 + 5, "code", "coder", true, 5.0, "sort list python");
    hit.cache = Some("hit".into());
    let mut slow = record("eeee00000000007a", t0 + 6, "code", "general", true, 5000.0, "explain monads");
    slow.cache = None;
    slow.route = Some(RouteNote {
        setting: "MODEL_CODE".into(),
        rule: "learned".into(),
        candidates: vec![RouteCandidate {
            model: "general".into(),
            installed: true,
            outcomes: ModelOutcomes { model: "general".into(), calls: 1, ..Default::default() },
            alpha: 2.0,
            beta: 1.0,
            sample: Some(0.75),
        }],
        decide_ms: 0.5,
    });
    s.record(&hit).await.unwrap();
    s.record(&slow).await.unwrap();
    assert_eq!(s.record_by_id("eeee00000000007a").await.unwrap(), slow, "the route note round-trips");
    let models = ["coder".to_string(), "general".to_string(), "absent".to_string()];
    let mut found = s.outcomes("code", &models, Some(1000.0)).await.unwrap();
    found.sort_by(|a, b| a.model.cmp(&b.model));
    let coder = ModelOutcomes {
        model: "coder".into(),
        calls: 2,
        failures: 1,
        rated: 1,
        rating_sum: 2,
        unrated_failures: 1,
        unrated_slow: 0,
        mean_ms: Some(100.0),
    };
    let general =
        ModelOutcomes { model: "general".into(), calls: 2, unrated_slow: 1, mean_ms: Some(2600.0), ..coder.clone() };
    let general = ModelOutcomes { failures: 0, rated: 0, rating_sum: 0, unrated_failures: 0, ..general };
    assert_eq!(found, [coder, general.clone()]);
    let mut unbudgeted = s.outcomes("code", &models, None).await.unwrap();
    unbudgeted.sort_by(|a, b| a.model.cmp(&b.model));
    assert_eq!(unbudgeted[1], ModelOutcomes { unrated_slow: 0, ..general }, "no budget: nothing is slow");
    assert!(s.outcomes("chat", &models[..1], None).await.unwrap().is_empty(), "only the asked models");
    assert!(s.outcomes("code", &[], None).await.unwrap().is_empty());

    // Retention: records made before the cut go, the others stay.
    assert_eq!(s.prune_records(t0 + 2).await.unwrap(), 2);
    let left: Vec<String> = s.records(&RecordFilter::default()).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(
        left,
        ["eeee00000000007a", "eeee00000000006f", "dddd00000000005e", "cccc00000000004d", "bbbb00000000003c"]
    );
    assert_eq!(s.prune_records(t0).await.unwrap(), 0, "nothing older than the oldest");
    assert_eq!(s.clear_records().await.unwrap(), 5);
    assert!(s.records(&RecordFilter::default()).await.unwrap().is_empty());
}

fn entry(id: &str, scope: &str, terms: &str, vector: [f32; 4], created: i64, expires: i64) -> CacheEntry {
    CacheEntry {
        id: id.into(),
        scope: scope.into(),
        signature: format!("sig-{id}"),
        prompt: format!("prompt {terms}"),
        terms: terms.into(),
        answer: format!("answer for {terms}"),
        model: "gemma".into(),
        embed_model: Some("mini".into()),
        embedding: Some(vector.to_vec()),
        negated: false,
        numbers: vec!["10".into()],
        entities: vec!["name:python".into()],
        created_at: created,
        last_hit_at: None,
        hit_count: 0,
        expires_at: expires,
    }
}

async fn cache_suite(c: &impl PromptCache) {
    c.clear_entries().await.unwrap();
    let now = now_ms();
    let hour = 3_600_000;
    let a = entry("a1b2c3d4e5f60001", "s1", "sort list python", [1.0, 0.1, 0.0, 0.0], now - 4, now + hour);
    let b = entry("b1b2c3d4e5f60002", "s2", "sort list python", [1.0, 0.1, 0.0, 0.0], now - 3, now + hour);
    let cc = entry("c1b2c3d4e5f60003", "s1", "capit franc", [0.0, 1.0, 0.2, 0.0], now - 2, now + hour);
    let e = entry("e1b2c3d4e5f60004", "s1", "sort list python", [1.0, 0.1, 0.0, 0.0], now - 1, now - 1);
    for x in [&a, &b, &cc, &e] {
        c.put(x).await.unwrap();
    }

    assert_eq!(c.exact("s1", "sig-a1b2c3d4e5f60001", now).await.unwrap().as_ref(), Some(&a), "all fields round-trip");
    assert_eq!(c.exact("s2", "sig-a1b2c3d4e5f60001", now).await.unwrap(), None, "another scope never matches");
    assert_eq!(c.exact("s1", "sig-e1b2c3d4e5f60004", now).await.unwrap(), None, "expired entries are not served");

    let ids = |v: Vec<CacheEntry>| {
        let mut ids: Vec<String> = v.into_iter().map(|e| e.id).collect();
        ids.sort();
        ids
    };
    let lexical = c.candidates("s1", "python list sort", None, 5, now).await.unwrap();
    assert_eq!(ids(lexical), ["a1b2c3d4e5f60001"], "BM25 finds the same-scope, unexpired entry");
    let q = [0.0f32, 0.9, 0.3, 0.0];
    let both =
        c.candidates("s1", "python list sort", Some(QueryVector { model: "mini", vector: &q }), 1, now).await.unwrap();
    assert_eq!(ids(both), ["a1b2c3d4e5f60001", "c1b2c3d4e5f60003"], "kNN adds the nearest vector");
    let other_model = c.candidates("s1", "", Some(QueryVector { model: "other", vector: &q }), 3, now).await.unwrap();
    assert!(other_model.is_empty(), "vectors of another embedding model are not compared");
    let other_dims =
        c.candidates("s1", "", Some(QueryVector { model: "mini", vector: &[1.0, 0.0] }), 3, now).await.unwrap();
    assert!(other_dims.is_empty());

    c.count_hit("a1b2c3d4e5f60001", now + 5).await.unwrap();
    c.count_hit("a1b2c3d4e5f60001", now + 6).await.unwrap();
    let hit = c.exact("s1", "sig-a1b2c3d4e5f60001", now).await.unwrap().unwrap();
    assert_eq!((hit.hit_count, hit.last_hit_at), (2, Some(now + 6)));

    c.put(&CacheEntry { answer: "newer answer".into(), ..hit.clone() }).await.unwrap();
    let list = c.entries(None).await.unwrap();
    assert_eq!(list.len(), 4, "putting the same id replaces the entry");
    assert_eq!(list[0].id, "e1b2c3d4e5f60004", "newest first");
    assert_eq!(list.iter().find(|x| x.id == a.id).unwrap().answer, "newer answer");
    assert_eq!(c.entries(Some(2)).await.unwrap().len(), 2);

    let summary = c.summary(now).await.unwrap();
    assert_eq!((summary.entries, summary.expired, summary.total_hits), (4, 1, 2));
    assert_eq!((summary.oldest, summary.newest), (Some(now - 4), Some(now - 1)));

    assert_eq!(c.expire(now).await.unwrap(), 1);
    c.remove_entry("b1b2").await.unwrap();
    assert!(matches!(c.remove_entry("b1b2").await, Err(StoreError::NoSuchId { .. })));
    assert!(matches!(c.remove_entry("").await, Err(StoreError::AmbiguousId { count: 2, .. })));
    assert_eq!(c.clear_entries().await.unwrap(), 2);
    assert_eq!(c.summary(now).await.unwrap().entries, 0);
}

fn temp_store(tag: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("vuhitra-conformance-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Store::open(&dir.join("vuhitra.db")).unwrap()
}

/// The test Elasticsearch, or None when a partial run skips it.
fn elastic_url() -> Option<url::Url> {
    let url = vuhitra_testkit::service("VUHITRA_TEST_ELASTICSEARCH", "Elasticsearch 8.11")?;
    Some(url.parse().expect("VUHITRA_TEST_ELASTICSEARCH is a URL"))
}

async fn elastic(tag: &str) -> Option<ElasticStore> {
    let url = elastic_url()?;
    let prefix = format!("vuhitra-test-{tag}-{}", std::process::id());
    let store = ElasticStore::connect(&url, &Default::default(), &prefix, Duration::from_secs(5)).await.unwrap();
    Some(store)
}

#[tokio::test]
async fn embedded_heuristics_conform() {
    heuristics_suite(&temp_store("heuristics")).await;
}

#[tokio::test]
async fn embedded_cache_conforms() {
    cache_suite(&temp_store("cache")).await;
}

#[tokio::test]
async fn elasticsearch_heuristics_conform() {
    let Some(es) = elastic("heuristics").await else { return };
    heuristics_suite(&es).await;
    es.drop_all().await.unwrap();
}

#[tokio::test]
async fn elasticsearch_cache_conforms() {
    let Some(es) = elastic("cache").await else { return };
    cache_suite(&es).await;
    es.drop_all().await.unwrap();
}

/// An index from an older mapping version, and a plain index from before
/// aliases, are both re-indexed into the current version behind the alias.
#[tokio::test]
async fn elasticsearch_migrates_older_indices_behind_the_alias() {
    let Some(url) = elastic_url() else { return };
    let prefix = format!("vuhitra-test-migrate-{}", std::process::id());
    let http = vuhitra_core::http::client(std::time::Duration::from_secs(5));
    let put = |path: String, body: serde_json::Value| {
        let req = http.put(url.join(&path).unwrap()).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.text().await.unwrap());
        }
    };
    // Heuristics: a v0 index behind the alias, with a field v1 does not know.
    put(
        format!("{prefix}-heuristics-v0"),
        serde_json::json!({
            "settings": {"number_of_replicas": 0},
            "mappings": {"properties": {"prompt": {"type": "keyword"}, "legacy": {"type": "keyword"}}},
            "aliases": {format!("{prefix}-heuristics"): {"is_write_index": true}},
        }),
    )
    .await;
    put(
        format!("{prefix}-heuristics-v0/_doc/0000000000000old?refresh=true"),
        serde_json::json!({"id": "0000000000000old", "created_at": 1, "model": "m", "prompt": "old prompt",
            "intent": "chat", "success": true, "legacy": "x"}),
    )
    .await;
    // Prompt cache: a plain index named like the alias.
    put(format!("{prefix}-prompt-cache"), serde_json::json!({"settings": {"number_of_replicas": 0}})).await;
    put(
        format!("{prefix}-prompt-cache/_doc/c1?refresh=true"),
        serde_json::json!({"id": "c1", "scope": "s", "signature": "sig", "prompt": "p", "terms": "t", "answer": "a",
            "model": "m", "created_at": 1, "expires_at": 9_999_999_999_999i64}),
    )
    .await;

    let es = ElasticStore::connect(&url, &Default::default(), &prefix, Duration::from_secs(5)).await.unwrap();
    let aliases: serde_json::Value =
        http.get(url.join(&format!("_alias/{prefix}-*")).unwrap()).send().await.unwrap().json().await.unwrap();
    let mut indices: Vec<&String> = aliases.as_object().unwrap().keys().collect();
    indices.sort();
    assert_eq!(
        indices,
        [&format!("{prefix}-heuristics-v1"), &format!("{prefix}-prompt-cache-v1")],
        "old indices are gone"
    );
    let old = es.record_by_id("0000000000000old").await.unwrap();
    assert_eq!((old.prompt.as_str(), old.success), ("old prompt", true));
    assert!(es.exact("s", "sig", 2).await.unwrap().is_some(), "the cache entry moved too");
    // The migrated index works like a new one.
    es.rate("0000000000000old", 4, None, 5).await.unwrap();
    assert_eq!(es.stats(GroupBy::Intent).await.unwrap()[0].mean_rating, Some(4.0));
    es.drop_all().await.unwrap();
}

#[tokio::test]
async fn unreachable_elasticsearch_is_named_in_the_error() {
    let url: url::Url = "http://127.0.0.1:9".parse().unwrap();
    let err = ElasticStore::connect(&url, &Default::default(), "vuhitra", Duration::from_secs(2))
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, StoreError::ElasticUnreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("ELASTICSEARCH_URL=http://127.0.0.1:9/"), "{text}");
    assert!(err.hint().unwrap().contains("unset ELASTICSEARCH_URL"));
}
