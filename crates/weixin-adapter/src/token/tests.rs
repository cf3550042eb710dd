use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use super::*;

#[derive(Debug)]
struct ManualClock(AtomicI64);

impl ManualClock {
    fn at(seconds: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(seconds * 1000)))
    }

    fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

fn manager(cache: Arc<dyn TokenCache>, clock: Arc<ManualClock>) -> TokenManager {
    let settings = TokenSettings {
        lease_poll: Duration::from_millis(5),
        lease_ttl: Duration::from_millis(500),
        ..TokenSettings::default()
    };
    TokenManager::new(cache, clock, settings)
}

#[derive(Debug, PartialEq)]
struct FetchError;

impl From<TokenCacheError> for FetchError {
    fn from(_: TokenCacheError) -> Self {
        FetchError
    }
}

fn ok(value: &str, expires_in: i64) -> Result<Fetched, FetchError> {
    Ok(Fetched {
        value: SecretString::from(value),
        expires_in,
    })
}

#[test]
fn refresh_point_is_ahead_of_expiry_but_not_before_half_life() {
    let token = CachedToken {
        value: "t".into(),
        fetched_at: Timestamp::from_unix_seconds(1000),
        expires_at: Timestamp::from_unix_seconds(8200),
    };
    let ahead = Duration::from_secs(300);
    assert_eq!(token.refresh_at(ahead), Timestamp::from_unix_seconds(7900));
    let short = CachedToken {
        expires_at: Timestamp::from_unix_seconds(1300),
        ..token
    };
    assert_eq!(short.refresh_at(ahead), Timestamp::from_unix_seconds(1150));
}

#[tokio::test]
async fn cached_until_refresh_point_then_refetched() {
    let clock = ManualClock::at(1_000_000);
    let tokens = manager(Arc::new(InMemoryTokenCache::new()), Arc::clone(&clock));
    let first = tokens.get_or_fetch("k", || async { ok("one", 7200) }).await;
    assert_eq!(
        first.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(7200 - 301);
    let still = tokens.get_or_fetch("k", || async { ok("two", 7200) }).await;
    assert_eq!(
        still.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(2);
    let next = tokens.get_or_fetch("k", || async { ok("two", 7200) }).await;
    assert_eq!(
        next.map(|t| t.expose_secret().to_owned()),
        Ok("two".to_owned())
    );
}

#[tokio::test]
async fn failed_refresh_falls_back_to_a_still_valid_token_only() {
    let clock = ManualClock::at(1_000_000);
    let tokens = manager(Arc::new(InMemoryTokenCache::new()), Arc::clone(&clock));
    tokens
        .get_or_fetch("k", || async { ok("one", 7200) })
        .await
        .expect("fetched");
    clock.advance(7000);
    let fallback = tokens.get_or_fetch("k", || async { Err(FetchError) }).await;
    assert_eq!(
        fallback.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(300);
    let expired = tokens.get_or_fetch("k", || async { Err(FetchError) }).await;
    assert_eq!(expired.map(|_| ()), Err(FetchError));
}

#[tokio::test]
async fn single_flight_within_a_process() {
    let clock = ManualClock::at(1_000_000);
    let tokens = Arc::new(manager(Arc::new(InMemoryTokenCache::new()), clock));
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let tokens = Arc::clone(&tokens);
        let fetches = Arc::clone(&fetches);
        tasks.push(tokio::spawn(async move {
            tokens
                .get_or_fetch("k", || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    ok("shared", 7200)
                })
                .await
                .map(|t| t.expose_secret().to_owned())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("joined"), Ok("shared".to_owned()));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn single_flight_across_instances_through_the_lease() {
    let clock = ManualClock::at(1_000_000);
    let cache: Arc<dyn TokenCache> = Arc::new(InMemoryTokenCache::new());
    let a = Arc::new(manager(Arc::clone(&cache), Arc::clone(&clock)));
    let b = Arc::new(manager(Arc::clone(&cache), clock));
    let fetches = Arc::new(AtomicUsize::new(0));
    let run = |tokens: Arc<TokenManager>, fetches: Arc<AtomicUsize>| {
        tokio::spawn(async move {
            tokens
                .get_or_fetch("k", || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ok("shared", 7200)
                })
                .await
                .map(|t| t.expose_secret().to_owned())
        })
    };
    let first = run(Arc::clone(&a), Arc::clone(&fetches));
    let second = run(b, Arc::clone(&fetches));
    assert_eq!(first.await.expect("joined"), Ok("shared".to_owned()));
    assert_eq!(second.await.expect("joined"), Ok("shared".to_owned()));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalidate_is_compare_and_delete() {
    let cache = InMemoryTokenCache::new();
    let token = CachedToken {
        value: "new".into(),
        fetched_at: Timestamp::from_millis(0),
        expires_at: Timestamp::from_millis(1),
    };
    cache.put("k", &token).await.expect("put");
    cache
        .invalidate("k", &"old".into())
        .await
        .expect("invalidate");
    assert!(cache.get("k").await.expect("get").is_some());
    cache
        .invalidate("k", &"new".into())
        .await
        .expect("invalidate");
    assert!(cache.get("k").await.expect("get").is_none());
}

#[tokio::test]
async fn leases_are_exclusive_until_released() {
    let cache = InMemoryTokenCache::new();
    let ttl = Duration::from_secs(30);
    assert_eq!(cache.try_lease("k", "a", ttl).await.ok(), Some(true));
    assert_eq!(cache.try_lease("k", "b", ttl).await.ok(), Some(false));
    cache.release_lease("k", "b").await.expect("release");
    assert_eq!(cache.try_lease("k", "b", ttl).await.ok(), Some(false));
    cache.release_lease("k", "a").await.expect("release");
    assert_eq!(cache.try_lease("k", "b", ttl).await.ok(), Some(true));
}

#[test]
fn debug_never_shows_a_token() {
    let token = CachedToken {
        value: "s3cret-token".into(),
        fetched_at: Timestamp::from_millis(0),
        expires_at: Timestamp::from_millis(1),
    };
    assert!(!format!("{token:?}").contains("s3cret"));
    assert_eq!(
        cache_key(
            TokenKind::AccessToken,
            &AppId::parse("wx1234").expect("appid")
        ),
        "fapiao:weixin:access_token:wx1234"
    );
}
