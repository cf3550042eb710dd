use std::sync::Arc;

use fapiao_domain::Secret;
use fapiao_domain::ports::{CachedToken, TokenCache};
use fapiao_storage::SeaOrmTokenCache;

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(
    put_then_get_round_trips_and_overwrites,
    the_refresh_lease_has_one_holder_until_it_expires_or_is_released,
    only_one_of_many_instances_gets_the_refresh_lease,
);

async fn put_then_get_round_trips_and_overwrites(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let cache = SeaOrmTokenCache::new(test_db.db.clone());
    assert_eq!(cache.get("access_token:wx1").await.expect("get"), None);
    let token = CachedToken {
        value: Secret::new("tok-1"),
        expires_at: at(7_200_000),
    };
    cache.put("access_token:wx1", &token).await.expect("put");
    assert_eq!(
        cache.get("access_token:wx1").await.expect("get"),
        Some(token)
    );
    let newer = CachedToken {
        value: Secret::new("tok-2"),
        expires_at: at(9_000_000),
    };
    cache.put("access_token:wx1", &newer).await.expect("put");
    assert_eq!(
        cache.get("access_token:wx1").await.expect("get"),
        Some(newer)
    );
    assert_eq!(cache.get("ticket:wx1").await.expect("get"), None);
}

async fn the_refresh_lease_has_one_holder_until_it_expires_or_is_released(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let cache = SeaOrmTokenCache::new(test_db.db.clone());
    let key = "access_token:wx1";
    assert!(
        cache
            .try_acquire_refresh(key, "a", at(0), at(10_000))
            .await
            .expect("acquire")
    );
    // A lease on a key with no token yet does not invent a token.
    assert_eq!(cache.get(key).await.expect("get"), None);
    assert!(
        !cache
            .try_acquire_refresh(key, "b", at(5_000), at(15_000))
            .await
            .expect("acquire")
    );
    // The holder may extend its own lease.
    assert!(
        cache
            .try_acquire_refresh(key, "a", at(6_000), at(16_000))
            .await
            .expect("acquire")
    );
    assert!(
        !cache
            .try_acquire_refresh(key, "b", at(12_000), at(22_000))
            .await
            .expect("acquire")
    );
    // Expired: b takes over.
    assert!(
        cache
            .try_acquire_refresh(key, "b", at(16_000), at(26_000))
            .await
            .expect("acquire")
    );
    // a cannot release b's lease.
    cache.release_refresh(key, "a").await.expect("release");
    assert!(
        !cache
            .try_acquire_refresh(key, "a", at(17_000), at(27_000))
            .await
            .expect("acquire")
    );
    // b stores the token, keeping its lease, then releases it.
    let token = CachedToken {
        value: Secret::new("fresh"),
        expires_at: at(7_217_000),
    };
    cache.put(key, &token).await.expect("put");
    assert!(
        !cache
            .try_acquire_refresh(key, "a", at(18_000), at(28_000))
            .await
            .expect("acquire")
    );
    cache.release_refresh(key, "b").await.expect("release");
    assert_eq!(cache.get(key).await.expect("get"), Some(token));
    assert!(
        cache
            .try_acquire_refresh(key, "a", at(19_000), at(29_000))
            .await
            .expect("acquire")
    );
}

async fn only_one_of_many_instances_gets_the_refresh_lease(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let first = Arc::new(SeaOrmTokenCache::new(test_db.db.clone()));
    let second = Arc::new(SeaOrmTokenCache::new(test_db.second_instance().await));
    for round in 0..5_i64 {
        let key = format!("access_token:wx{round}");
        let mut tasks = Vec::new();
        for holder in 0..8 {
            let cache = if holder % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .try_acquire_refresh(&key, &format!("instance-{holder}"), at(1_000), at(31_000))
                    .await
                    .expect("acquire")
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("task") {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
