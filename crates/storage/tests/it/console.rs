use fapiao_domain::Secret;
use fapiao_domain::ports::{ConsoleSession, ConsoleSessions, RepositoryError};
use fapiao_storage::SeaOrmConsoleSessions;

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(console_sessions_round_trip_touch_delete_and_purge);

fn session(hash: char, last_seen: i64, expires: i64) -> ConsoleSession {
    ConsoleSession {
        token_hash: hash.to_string().repeat(64),
        csrf_token: Secret::new(format!("csrf-{hash}")),
        operator: "api_key".into(),
        created_at: at(1_000),
        last_seen_at: at(last_seen),
        expires_at: at(expires),
    }
}

async fn console_sessions_round_trip_touch_delete_and_purge(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let store = SeaOrmConsoleSessions::new(test_db.db.clone());
    let a = session('a', 1_000, 100_000);
    store.create(&a).await.expect("create");
    assert!(matches!(
        store.create(&a).await,
        Err(RepositoryError::Conflict(_))
    ));
    let loaded = store
        .get(&a.token_hash)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(loaded, a);
    assert_eq!(loaded.csrf_token.expose(), "csrf-a");
    assert!(store.get(&"f".repeat(64)).await.expect("get").is_none());

    store.touch(&a.token_hash, at(5_000)).await.expect("touch");
    let touched = store
        .get(&a.token_hash)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(touched.last_seen_at, at(5_000));

    // b expires at 10 s, c was last seen at 2 s, a (seen at 5 s) lives on.
    store.create(&session('b', 9_000, 10_000)).await.expect("b");
    store
        .create(&session('c', 2_000, 100_000))
        .await
        .expect("c");
    let purged = store.purge(at(10_000), at(3_000)).await.expect("purge");
    assert_eq!(purged, 2);
    assert!(store.get(&a.token_hash).await.expect("get").is_some());
    assert!(store.get(&"b".repeat(64)).await.expect("get").is_none());

    store.delete(&a.token_hash).await.expect("delete");
    store
        .delete(&a.token_hash)
        .await
        .expect("a second delete is fine");
    assert!(store.get(&a.token_hash).await.expect("get").is_none());
}
