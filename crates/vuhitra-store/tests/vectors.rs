//! One conformance suite for `VectorStore`, run on the embedded SQLite
//! store and on a real Redis (VUHITRA_TEST_REDIS: Valkey, no modules).

use vuhitra_store::vectors::{
    normalize, FileEntry, RedisVectors, SearchFilter, SqliteVectors, StoredChunk, VectorStore,
};
use vuhitra_store::{now_ms, Store, StoreError};

fn unit(v: [f32; 4]) -> Vec<f32> {
    let mut v = v.to_vec();
    normalize(&mut v);
    v
}

fn chunk(path: &str, seq: u32, text: &str, v: [f32; 4]) -> StoredChunk {
    StoredChunk {
        path: path.into(),
        seq,
        lines: (seq * 10 + 1, seq * 10 + 9),
        headings: vec!["Guide".into(), format!("Part {seq}")],
        text: text.into(),
        hash: format!("{path}-{seq}"),
        vector: unit(v),
    }
}

fn entry(path: &str, hash: &str, chunks: u32) -> FileEntry {
    FileEntry {
        path: path.into(),
        hash: hash.into(),
        kind: "markdown".into(),
        chunks,
        bytes: 100,
        ingested_at: now_ms(),
    }
}

async fn suite(s: &impl VectorStore) {
    for c in s.collections().await.unwrap() {
        s.delete_collection(&c.name).await.unwrap();
    }
    assert!(s.collection("docs").await.unwrap().is_none());
    let err = s.vector_search("docs", &unit([1.0, 0.0, 0.0, 0.0]), 3, &SearchFilter::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchCollection(_)), "{err:?}");

    let info = s.ensure_collection("docs", "all-minilm", 4).await.unwrap();
    assert_eq!((info.files, info.chunks, info.embed_model.as_str()), (0, 0, "all-minilm"));
    let a = vec![
        chunk("/d/lists.md", 0, "Lists are sorted in place with the sort method.", [1.0, 0.0, 0.0, 0.0]),
        chunk("/d/lists.md", 1, "The sorted builtin returns a new list.", [0.9, 0.1, 0.0, 0.0]),
    ];
    let b =
        vec![chunk("/d/dicts.md", 0, "Dictionaries map keys to values; unicode ключи work too.", [0.0, 1.0, 0.0, 0.0])];
    s.put_file("docs", &entry("/d/lists.md", "h1", 2), &a).await.unwrap();
    s.put_file("docs", &entry("/d/dicts.md", "h2", 1), &b).await.unwrap();
    let info2 = s.collection("docs").await.unwrap().unwrap();
    assert_eq!((info2.files, info2.chunks), (2, 3));
    assert!(info2.version > info.version, "every change moves the version");

    // Vector search: best first, cosine scores, the filter applies.
    let hits = s.vector_search("docs", &unit([1.0, 0.05, 0.0, 0.0]), 2, &SearchFilter::default()).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| (h.path.as_str(), h.seq)).collect::<Vec<_>>(),
        [("/d/lists.md", 0), ("/d/lists.md", 1)]
    );
    assert!(hits[0].score > hits[1].score && hits[0].score <= 1.0001);
    assert_eq!(hits[0].lines, (1, 9));
    assert_eq!(hits[0].headings, ["Guide", "Part 0"]);
    let only_dicts = SearchFilter { path_prefix: Some("/d/dicts".into()) };
    let hits = s.vector_search("docs", &unit([1.0, 0.0, 0.0, 0.0]), 5, &only_dicts).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.path.as_str()).collect::<Vec<_>>(), ["/d/dicts.md"]);

    // BM25: stemmed words, heading words count, no match means no hit.
    let hits = s.text_search("docs", "sorting a list", 5, &SearchFilter::default()).await.unwrap();
    assert_eq!(hits.first().map(|h| h.path.as_str()), Some("/d/lists.md"));
    assert!(hits.iter().all(|h| h.path == "/d/lists.md"), "dicts.md has none of the words: {hits:?}");
    let hits = s.text_search("docs", "ключи", 5, &SearchFilter::default()).await.unwrap();
    assert_eq!(hits.len(), 1, "unicode words match");
    assert!(s.text_search("docs", "zebra", 5, &SearchFilter::default()).await.unwrap().is_empty());
    assert!(
        s.text_search("docs", "\"*(:)", 5, &SearchFilter::default()).await.unwrap().is_empty(),
        "query syntax is not an error"
    );

    // Replacing a file replaces all its chunks.
    let a2 = vec![chunk("/d/lists.md", 0, "Tuples are immutable.", [0.0, 0.0, 1.0, 0.0])];
    s.put_file("docs", &entry("/d/lists.md", "h3", 1), &a2).await.unwrap();
    let all = s.chunks("docs").await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|c| !c.text.contains("sorted")), "the old chunks are gone");
    assert!(s.text_search("docs", "sorted", 5, &SearchFilter::default()).await.unwrap().is_empty());
    let files = s.files("docs").await.unwrap();
    assert_eq!(
        files.iter().map(|f| (f.path.as_str(), f.hash.as_str())).collect::<Vec<_>>(),
        [("/d/dicts.md", "h2"), ("/d/lists.md", "h3")]
    );

    // Another model is refused; the collection keeps its own.
    let err = s.ensure_collection("docs", "nomic-embed-text", 768).await.unwrap_err();
    assert!(matches!(err, StoreError::ModelMismatch { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("rag reindex"));

    // Reindex swaps model and vectors in one step.
    let mut moved = s.chunks("docs").await.unwrap();
    for c in &mut moved {
        c.vector = vec![0.0, 0.0, 1.0];
    }
    let mut new_info = s.collection("docs").await.unwrap().unwrap();
    new_info.embed_model = "other".into();
    new_info.dims = 3;
    s.replace_collection(&new_info, &files, &moved).await.unwrap();
    let after = s.collection("docs").await.unwrap().unwrap();
    assert_eq!((after.embed_model.as_str(), after.dims, after.chunks), ("other", 3, 2));
    let hits = s.vector_search("docs", &[0.0, 0.0, 1.0], 5, &SearchFilter::default()).await.unwrap();
    assert_eq!(hits.len(), 2);

    // Removing files and collections.
    assert!(s.remove_file("docs", "/d/dicts.md").await.unwrap());
    assert!(!s.remove_file("docs", "/d/dicts.md").await.unwrap());
    assert_eq!(s.collection("docs").await.unwrap().unwrap().files, 1);
    s.ensure_collection("other", "all-minilm", 4).await.unwrap();
    let names: Vec<String> = s.collections().await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["docs", "other"]);
    assert!(s.delete_collection("docs").await.unwrap());
    assert!(!s.delete_collection("docs").await.unwrap());
    assert!(s.collection("docs").await.unwrap().is_none());
    let err = s.put_file("docs", &entry("/d/x.md", "h", 0), &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::NoSuchCollection(_)), "a file never lands in a missing collection: {err:?}");

    // The embedding cache.
    let got = s.cached_embeddings("m", &["a".into(), "b".into()]).await.unwrap();
    assert_eq!(got, [None, None]);
    s.cache_embeddings("m", &[("b".into(), vec![0.5, 0.25])]).await.unwrap();
    let got = s.cached_embeddings("m", &["a".into(), "b".into()]).await.unwrap();
    assert_eq!(got, [None, Some(vec![0.5, 0.25])]);
    assert_eq!(s.cached_embeddings("other-model", &["b".into()]).await.unwrap(), [None], "keyed by model");
    s.delete_collection("other").await.unwrap();

    // BM25 within one collection and path, even when another collection
    // holds many better matches for the same words.
    s.ensure_collection("crowd", "all-minilm", 4).await.unwrap();
    let many: Vec<StoredChunk> =
        (0..120).map(|i| chunk("/c/w.md", i, "widget widget widget gadget", [1.0, 0.0, 0.0, 0.0])).collect();
    s.put_file("crowd", &entry("/c/w.md", "hc", 120), &many).await.unwrap();
    s.ensure_collection("small", "all-minilm", 4).await.unwrap();
    let few = vec![
        chunk("/s/a.md", 0, "A widget among many other words in a long sentence here.", [0.0, 1.0, 0.0, 0.0]),
        chunk("/s/a.md", 1, "Nothing relevant at all.", [0.0, 1.0, 0.0, 0.0]),
    ];
    s.put_file("small", &entry("/s/a.md", "hs", 2), &few).await.unwrap();
    s.put_file("small", &entry("/s/b.md", "hb", 1), &[chunk("/s/b.md", 0, "widget", [0.0, 0.0, 1.0, 0.0])])
        .await
        .unwrap();
    let hits = s.text_search("small", "widget", 5, &SearchFilter::default()).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| (h.path.as_str(), h.seq)).collect::<Vec<_>>(),
        [("/s/b.md", 0), ("/s/a.md", 0)],
        "the other collection's matches never crowd this one out"
    );
    let only_a = SearchFilter { path_prefix: Some("/s/a".into()) };
    let hits = s.text_search("small", "widget", 5, &only_a).await.unwrap();
    assert_eq!(hits.iter().map(|h| (h.path.as_str(), h.seq)).collect::<Vec<_>>(), [("/s/a.md", 0)]);
    assert_eq!(s.text_search("crowd", "widget", 3, &SearchFilter::default()).await.unwrap().len(), 3);
    s.delete_collection("crowd").await.unwrap();
    s.delete_collection("small").await.unwrap();
}

#[tokio::test]
async fn embedded_vectors_conform() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("v.db")).unwrap();
    suite(&SqliteVectors::new(store)).await;
}

fn prefix() -> String {
    format!("vuhitra-test-vec-{}-{}", std::process::id(), now_ms())
}

#[tokio::test]
async fn redis_vectors_conform() {
    let url = vuhitra_testkit::need!(vuhitra_testkit::service("VUHITRA_TEST_REDIS", "a Redis >= 7.2 (Valkey)"));
    let dir = tempfile::tempdir().unwrap();
    let r =
        RedisVectors::connect(&url.parse().unwrap(), &Default::default(), &prefix(), dir.path().into()).await.unwrap();
    suite(&r).await;
}

#[tokio::test]
async fn a_second_redis_client_sees_changes_through_its_mirror_and_fetches_only_changed_files() {
    let url = vuhitra_testkit::need!(vuhitra_testkit::service("VUHITRA_TEST_REDIS", "a Redis >= 7.2 (Valkey)"));
    let url: url::Url = url.parse().unwrap();
    let (prefix, dir) = (prefix(), tempfile::tempdir().unwrap());
    let writer = RedisVectors::connect(&url, &Default::default(), &prefix, dir.path().join("w")).await.unwrap();
    let mirrors = dir.path().join("reader");
    writer.ensure_collection("c", "m", 4).await.unwrap();
    writer.put_file("c", &entry("/a", "1", 1), &[chunk("/a", 0, "apples", [1.0, 0.0, 0.0, 0.0])]).await.unwrap();
    let reader = RedisVectors::connect(&url, &Default::default(), &prefix, mirrors.clone()).await.unwrap();
    assert_eq!(reader.text_search("c", "apples", 5, &SearchFilter::default()).await.unwrap().len(), 1);
    let saved: Vec<_> = walk(&mirrors);
    assert_eq!(saved.len(), 1, "the mirror is kept on disk: {saved:?}");
    // A new process (a fresh client) reads the mirror from disk.
    writer.put_file("c", &entry("/b", "2", 1), &[chunk("/b", 0, "bananas", [0.0, 1.0, 0.0, 0.0])]).await.unwrap();
    let fresh = RedisVectors::connect(&url, &Default::default(), &prefix, mirrors.clone()).await.unwrap();
    let hits = fresh.vector_search("c", &unit([0.0, 1.0, 0.0, 0.0]), 1, &SearchFilter::default()).await.unwrap();
    assert_eq!(hits[0].path, "/b", "the mirror followed the version");
    assert!(reader.text_search("c", "bananas", 5, &SearchFilter::default()).await.unwrap().len() == 1);
    writer.delete_collection("c").await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test]
async fn a_redis_that_is_down_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        RedisVectors::connect(&"redis://127.0.0.1:9".parse().unwrap(), &Default::default(), "v", dir.path().into())
            .await
            .err()
            .expect("nothing listens there");
    assert!(matches!(err, StoreError::RedisUnreachable { .. }), "{err:?}");
}
