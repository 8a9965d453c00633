//! One conformance suite for `FrameCache`, run on the embedded SQLite store
//! and on a real Redis (VUHITRA_TEST_REDIS: Valkey 8, started by scripts/test).

use vuhitra_store::frames::{chunk_count, FrameCache, FrameInfo, RedisFrames, SqliteFrames};
use vuhitra_store::{now_ms, Store, StoreError};

fn info(key: &str, bytes: &[u8], chunk: usize, ttl_ms: i64) -> FrameInfo {
    FrameInfo {
        key: key.into(),
        rows: 3,
        columns: vec!["a".into(), "b".into()],
        source: "sales.csv".into(),
        bytes: bytes.len() as u64,
        chunks: chunk_count(bytes.len(), chunk),
        created_at: now_ms(),
        expires_at: now_ms() + ttl_ms,
    }
}

async fn suite(c: &impl FrameCache, chunk: usize) {
    for f in c.frames().await.unwrap() {
        c.drop_frame(&f.key).await.unwrap();
    }
    assert!(c.get_frame("sales").await.unwrap().is_none());
    // A frame many chunks long comes back byte for byte.
    let big: Vec<u8> = (0..chunk * 5 + 123).map(|i| (i * 31 % 251) as u8).collect();
    let big_info = info("sales", &big, chunk, 60_000);
    assert_eq!(big_info.chunks, 6);
    c.put_frame(&big_info, &big).await.unwrap();
    let (got_info, got) = c.get_frame("sales").await.unwrap().unwrap();
    assert_eq!(got_info, big_info);
    assert!(got == big, "bytes round-trip through {} chunks", big_info.chunks);
    // Replacing with a smaller frame leaves no stale chunks behind.
    let small = b"tiny".to_vec();
    let small_info = info("sales", &small, chunk, 60_000);
    c.put_frame(&small_info, &small).await.unwrap();
    assert_eq!(c.get_frame("sales").await.unwrap().unwrap().1, small);
    let other = info("users", b"x", chunk, 60_000);
    c.put_frame(&other, b"x").await.unwrap();
    let keys: Vec<String> = c.frames().await.unwrap().into_iter().map(|f| f.key).collect();
    assert_eq!(keys, ["sales", "users"]);
    // Expiry.
    let short = info("brief", b"soon gone", chunk, 300);
    c.put_frame(&short, b"soon gone").await.unwrap();
    assert!(c.get_frame("brief").await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert!(c.get_frame("brief").await.unwrap().is_none(), "past its TTL");
    assert_eq!(c.frames().await.unwrap().len(), 2);
    assert!(c.drop_frame("users").await.unwrap());
    assert!(!c.drop_frame("users").await.unwrap());
    assert!(c.drop_frame("sales").await.unwrap());
    assert!(c.frames().await.unwrap().is_empty());
}

#[tokio::test]
async fn embedded_frames_conform() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("v.db")).unwrap();
    suite(&SqliteFrames { store, chunk: 1000 }, 1000).await;
}

#[tokio::test]
async fn redis_frames_conform() {
    let url = vuhitra_testkit::need!(vuhitra_testkit::service("VUHITRA_TEST_REDIS", "a Redis >= 7.2 (Valkey)"));
    let mut r = RedisFrames::connect(
        &url.parse().unwrap(),
        &Default::default(),
        &format!("vuhitra-test-{}", std::process::id()),
    )
    .await
    .unwrap();
    r.chunk = 1000;
    suite(&r, 1000).await;
}

#[tokio::test]
async fn unreachable_redis_is_named_in_the_error() {
    let err = RedisFrames::connect(&"redis://127.0.0.1:9".parse().unwrap(), &Default::default(), "vuhitra")
        .await
        .err()
        .expect("nothing listens there");
    assert!(matches!(err, StoreError::RedisUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("REDIS_URL=redis://127.0.0.1:9"), "{err}");
    assert!(err.hint().unwrap().contains("unset REDIS_URL"));
}
