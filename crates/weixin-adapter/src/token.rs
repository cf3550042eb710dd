//! Access tokens and `wx_card` tickets: cached per appid, refreshed ahead of expiry, fetched by
//! one caller however many are waiting.
//!
//! Two layers keep refreshes single. Inside a process, a per-key async mutex lets one task
//! fetch while the others wait and then read what it stored. Across instances sharing a
//! [`TokenCache`] (Redis, the database), a refresh lease in the cache lets one instance fetch
//! while the others poll the cache. Fetching `/cgi-bin/token` invalidates the previous token
//! (after a 5-minute overlap), so two refreshers would keep knocking each other's token out.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fapiao_domain::ports::{CachedToken, Clock, RepositoryError, TokenCache};
use fapiao_domain::{AppId, Secret, Timestamp};
use secrecy::{ExposeSecret, SecretString};

/// The process-local [`TokenCache`]: enough for one instance; several instances share one
/// through the storage adapter's implementation.
#[derive(Debug, Default)]
pub struct InMemoryTokenCache {
    inner: Mutex<InMemoryState>,
}

#[derive(Debug, Default)]
struct InMemoryState {
    tokens: HashMap<String, CachedToken>,
    leases: HashMap<String, (String, Timestamp)>,
}

impl InMemoryTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, InMemoryState> {
        // A panic while holding this lock leaves plain maps behind, which are still valid.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl TokenCache for InMemoryTokenCache {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, RepositoryError> {
        Ok(self.state().tokens.get(key).cloned())
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), RepositoryError> {
        self.state().tokens.insert(key.to_owned(), token.clone());
        Ok(())
    }

    async fn try_acquire_refresh(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut state = self.state();
        match state.leases.get(key) {
            Some((owner, until)) if *until > now && owner != holder => Ok(false),
            _ => {
                state
                    .leases
                    .insert(key.to_owned(), (holder.to_owned(), lease_until));
                Ok(true)
            }
        }
    }

    async fn release_refresh(&self, key: &str, holder: &str) -> Result<(), RepositoryError> {
        let mut state = self.state();
        if state
            .leases
            .get(key)
            .is_some_and(|(owner, _)| owner == holder)
        {
            state.leases.remove(key);
        }
        Ok(())
    }
}

/// The system clock, for hosts that do not pass their own [`Clock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis(millis)
    }
}

/// Which credential of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// The `access_token`.
    AccessToken,
    /// The `wx_card` ticket of the auth page.
    WxCardTicket,
}

/// The cache key of one account's credential.
pub fn cache_key(kind: TokenKind, appid: &AppId) -> String {
    let kind = match kind {
        TokenKind::AccessToken => "access_token",
        TokenKind::WxCardTicket => "wx_card_ticket",
    };
    format!("fapiao:weixin:{kind}:{appid}")
}

/// A freshly fetched credential.
#[derive(Debug)]
pub struct Fetched {
    /// The value.
    pub value: SecretString,
    /// Weixin's `expires_in`, seconds.
    pub expires_in: i64,
}

/// Tuning of [`TokenManager`].
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Refresh this long before expiry (default 4 minutes: inside the last 5 minutes, when a
    /// stable token fetch returns the next token, and short of the 300 s a stable token may be
    /// handed out with, so a fresh token is never already due).
    pub refresh_ahead: Duration,
    /// How long a refresh lease lasts if its holder dies (default 30 s).
    pub lease_ttl: Duration,
    /// How often a waiting instance looks at the cache (default 100 ms).
    pub lease_poll: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            refresh_ahead: Duration::from_secs(240),
            lease_ttl: Duration::from_secs(30),
            lease_poll: Duration::from_millis(100),
        }
    }
}

/// Single-flight access to cached credentials.
pub struct TokenManager {
    cache: Arc<dyn TokenCache>,
    clock: Arc<dyn Clock>,
    settings: TokenSettings,
    holder: String,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("settings", &self.settings)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager over `cache`.
    pub fn new(cache: Arc<dyn TokenCache>, clock: Arc<dyn Clock>, settings: TokenSettings) -> Self {
        Self {
            cache,
            clock,
            settings,
            holder: instance_id(),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Usable without a refresh: before its refresh point, and not the value Weixin just
    /// refused.
    fn usable(&self, token: &CachedToken, rejected: Option<&SecretString>) -> bool {
        let ahead = i64::try_from(self.settings.refresh_ahead.as_millis()).unwrap_or(i64::MAX);
        self.clock.now() < token.expires_at.plus_millis(-ahead)
            && rejected.is_none_or(|r| r.expose_secret() != token.value.expose())
    }

    fn local_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    /// The credential under `key`, calling `fetch` only when no usable one is cached and no
    /// other caller (in this process or, through the lease, in another) is already fetching.
    ///
    /// `rejected` is a value Weixin just refused (a token errcode): it counts as unusable even
    /// if not yet due, but a different value stored meanwhile by another caller is used as is.
    /// Nothing is deleted from the cache, so a caller that learns late of a refusal can never
    /// throw away the fresh value someone else stored.
    ///
    /// When `fetch` fails while the cached value is past its refresh point but not expired (and
    /// not the rejected one), that value is returned: Weixin still accepts it.
    ///
    /// # Errors
    /// `fetch`'s error, or the cache's.
    pub async fn get_or_fetch<F, Fut, E>(
        &self,
        key: &str,
        rejected: Option<&SecretString>,
        fetch: F,
    ) -> Result<SecretString, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, E>>,
        E: From<RepositoryError>,
    {
        if let Some(token) = self.cache.get(key).await?
            && self.usable(&token, rejected)
        {
            return Ok(exposed(&token.value));
        }
        let lock = self.local_lock(key);
        let _guard = lock.lock().await;
        let mut cached = self.cache.get(key).await?;
        if let Some(token) = &cached
            && self.usable(token, rejected)
        {
            return Ok(exposed(&token.value));
        }

        // Across instances: wait for the lease or for another instance's fresh value. A lease
        // expires after its TTL, so this ends; the bound is a second guard.
        let lease_ttl = i64::try_from(self.settings.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut waited = Duration::ZERO;
        let leased = loop {
            let now = self.clock.now();
            if self
                .cache
                .try_acquire_refresh(key, &self.holder, now, now.plus_millis(lease_ttl))
                .await?
            {
                break true;
            }
            if waited >= self.settings.lease_ttl * 2 {
                tracing::warn!(
                    key,
                    "token refresh lease not obtained in time; refreshing anyway"
                );
                break false;
            }
            tokio::time::sleep(self.settings.lease_poll).await;
            waited += self.settings.lease_poll;
            cached = self.cache.get(key).await?;
            if let Some(token) = &cached
                && self.usable(token, rejected)
            {
                return Ok(exposed(&token.value));
            }
        };

        let outcome = match fetch().await {
            Ok(fetched) => {
                let now = self.clock.now();
                let token = CachedToken {
                    value: Secret::new(fetched.value.expose_secret()),
                    expires_at: now.plus_millis(fetched.expires_in.max(0).saturating_mul(1000)),
                };
                match self.cache.put(key, &token).await {
                    Ok(()) => Ok(fetched.value),
                    Err(error) => Err(E::from(error)),
                }
            }
            Err(error) => match cached {
                Some(token)
                    if self.clock.now() < token.expires_at
                        && rejected.is_none_or(|r| r.expose_secret() != token.value.expose()) =>
                {
                    tracing::warn!(
                        key,
                        "token refresh failed; using the cached one until it expires"
                    );
                    Ok(exposed(&token.value))
                }
                _ => Err(error),
            },
        };
        if leased {
            // A lease left behind expires by itself; the outcome matters more.
            if let Err(error) = self.cache.release_refresh(key, &self.holder).await {
                tracing::warn!(key, error = %error, "token refresh lease not released");
            }
        }
        outcome
    }
}

fn exposed(secret: &Secret) -> SecretString {
    SecretString::from(secret.expose())
}

fn instance_id() -> String {
    let mut bytes = [0_u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Only the lease holder name; uniqueness per process is what matters.
        bytes = u64::from(std::process::id()).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
