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

impl From<RepositoryError> for FetchError {
    fn from(_: RepositoryError) -> Self {
        FetchError
    }
}

fn ok(value: &str, expires_in: i64) -> Result<Fetched, FetchError> {
    Ok(Fetched {
        value: SecretString::from(value),
        expires_in,
    })
}

#[tokio::test]
async fn cached_until_refresh_point_then_refetched() {
    let clock = ManualClock::at(1_000_000);
    let tokens = manager(Arc::new(InMemoryTokenCache::new()), Arc::clone(&clock));
    let first = tokens
        .get_or_fetch("k", None, || async { ok("one", 7200) })
        .await;
    assert_eq!(
        first.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(7200 - 241);
    let still = tokens
        .get_or_fetch("k", None, || async { ok("two", 7200) })
        .await;
    assert_eq!(
        still.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(2);
    let next = tokens
        .get_or_fetch("k", None, || async { ok("two", 7200) })
        .await;
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
        .get_or_fetch("k", None, || async { ok("one", 7200) })
        .await
        .expect("fetched");
    clock.advance(7100);
    let fallback = tokens
        .get_or_fetch("k", None, || async { Err(FetchError) })
        .await;
    assert_eq!(
        fallback.map(|t| t.expose_secret().to_owned()),
        Ok("one".to_owned())
    );
    clock.advance(100);
    let expired = tokens
        .get_or_fetch("k", None, || async { Err(FetchError) })
        .await;
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
                .get_or_fetch("k", None, || async move {
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
                .get_or_fetch("k", None, || async move {
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
async fn a_rejected_value_is_refetched_but_a_newer_one_is_kept() {
    let clock = ManualClock::at(1_000_000);
    let tokens = manager(Arc::new(InMemoryTokenCache::new()), clock);
    tokens
        .get_or_fetch("k", None, || async { ok("one", 7200) })
        .await
        .expect("one");
    let rejected = SecretString::from("one");
    let two = tokens
        .get_or_fetch("k", Some(&rejected), || async { ok("two", 7200) })
        .await;
    assert_eq!(
        two.map(|t| t.expose_secret().to_owned()),
        Ok("two".to_owned())
    );
    // A caller that learns late that "one" was refused keeps "two".
    let still = tokens
        .get_or_fetch("k", Some(&rejected), || async { ok("three", 7200) })
        .await;
    assert_eq!(
        still.map(|t| t.expose_secret().to_owned()),
        Ok("two".to_owned())
    );
    // A failed refresh never falls back to the rejected value.
    let rejected = SecretString::from("two");
    let failed = tokens
        .get_or_fetch("k", Some(&rejected), || async { Err(FetchError) })
        .await;
    assert_eq!(failed.map(|_| ()), Err(FetchError));
}

#[tokio::test]
async fn leases_are_exclusive_until_released() {
    let cache = InMemoryTokenCache::new();
    let now = Timestamp::from_unix_seconds(100);
    let until = Timestamp::from_unix_seconds(130);
    let lease = |holder, at| cache.try_acquire_refresh("k", holder, at, until);
    assert_eq!(lease("a", now).await.ok(), Some(true));
    assert_eq!(lease("b", now).await.ok(), Some(false));
    cache.release_refresh("k", "b").await.expect("release");
    assert_eq!(lease("b", now).await.ok(), Some(false));
    // An expired lease can be taken over.
    assert_eq!(
        lease("b", Timestamp::from_unix_seconds(131)).await.ok(),
        Some(true)
    );
    cache.release_refresh("k", "b").await.expect("release");
    assert_eq!(lease("a", now).await.ok(), Some(true));
}

#[test]
fn debug_never_shows_a_token() {
    let token = CachedToken {
        value: Secret::new("s3cret-token"),
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
