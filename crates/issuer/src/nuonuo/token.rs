//! The Nuonuo access token (reference §1.3): one per app, kept in the shared [`TokenCache`] and
//! refreshed by one caller across every instance, because Nuonuo allows only 50 token calls per
//! 30 days and a restart loop that fetched a token each time would lock the merchant out.
//!
//! - The token is read from the cache first; a restart with a valid stored token makes no call.
//! - A refresh happens ahead of expiry, under a per-process mutex and the cache's refresh
//!   lease, and re-reads the cache once it holds the lease (another instance may just have
//!   stored a fresh token).
//! - Every token call is counted *before* it is made, in a second cache entry holding the call
//!   times of the last 30 days, so the count is shared by the instances and survives restarts.
//! - The adapter refuses a call that would spend the reserve (the last calls of the budget), and
//!   a second call within the minimum interval: a token refused right after it was fetched means
//!   wrong credentials, which more calls would not mend.

use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::Secret;
use fapiao_domain::ports::{CachedToken, Clock, RepositoryError, TokenCache};
use fapiao_domain::time::Timestamp;

/// Nuonuo's window for the token-call limit.
pub const BUDGET_WINDOW_MILLIS: i64 = 30 * 24 * 3600 * 1000;

/// Tuning of the token budget and refresh.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Token calls allowed per 30 days (Nuonuo: 50).
    pub budget: u32,
    /// Calls kept back for an operator: the adapter never makes the last `reserve` calls itself.
    pub reserve: u32,
    /// Least time between two token calls made by the adapter.
    pub min_interval: Duration,
    /// Refresh this long before expiry (the doc suggests refreshing after about 23 h).
    pub refresh_ahead: Duration,
    /// Refresh lease length; a dead holder's lease lapses after it.
    pub lease_ttl: Duration,
    /// How often a waiting instance looks at the cache.
    pub lease_poll: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            budget: 50,
            reserve: 5,
            min_interval: Duration::from_secs(600),
            refresh_ahead: Duration::from_secs(3600),
            lease_ttl: Duration::from_secs(30),
            lease_poll: Duration::from_millis(100),
        }
    }
}

/// The token calls of the current 30-day window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBudget {
    /// Calls made in the last 30 days.
    pub used: u32,
    /// Calls allowed per 30 days.
    pub limit: u32,
    /// Calls the adapter keeps back.
    pub reserve: u32,
    /// The most recent call.
    pub last_call: Option<Timestamp>,
    /// When the stored token expires, if one is stored.
    pub token_expires_at: Option<Timestamp>,
}

impl TokenBudget {
    /// Calls the adapter may still make by itself.
    pub fn spendable(&self) -> u32 {
        self.limit
            .saturating_sub(self.reserve)
            .saturating_sub(self.used)
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The shared cache failed.
    #[error("token cache: {0}")]
    Cache(#[from] RepositoryError),
    /// The budget forbids another call.
    #[error("{0}")]
    Budget(String),
    /// Another instance holds the refresh lease for too long; try again later.
    #[error("{0}")]
    Busy(String),
    /// The token call failed; `refused` when Nuonuo answered with an error code.
    #[error("{message}")]
    Fetch {
        /// What happened (never the secret).
        message: String,
        /// Nuonuo refused the credentials or the grant (070304–070307, 070315).
        refused: bool,
        /// The call may have reached Nuonuo.
        sent: bool,
    },
}

/// A token Nuonuo just handed out.
#[derive(Debug)]
pub struct FreshToken {
    /// The token.
    pub value: Secret,
    /// Its life in seconds (`expires_in`).
    pub expires_in: i64,
    /// The new refresh token, for an ISV app.
    pub refresh_token: Option<Secret>,
}

/// Cache keys of one app.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) token: String,
    pub(super) calls: String,
    pub(super) refresh: String,
}

impl Keys {
    pub(super) fn new(app_key: &str) -> Keys {
        let base = format!("fapiao:nuonuo:{app_key}");
        Keys {
            token: format!("{base}:access_token"),
            calls: format!("{base}:token_calls"),
            refresh: format!("{base}:refresh_token"),
        }
    }
}

/// Single-flight access to the app's token over the shared cache.
pub(super) struct Tokens {
    cache: Arc<dyn TokenCache>,
    clock: Arc<dyn Clock>,
    policy: TokenPolicy,
    keys: Keys,
    app_key: String,
    holder: String,
    local: tokio::sync::Mutex<()>,
    // Whether this process has published the stored count yet (a restart fetches nothing, but
    // the gauge must still show the count).
    published: std::sync::atomic::AtomicBool,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Tokens {
    pub(super) fn new(
        cache: Arc<dyn TokenCache>,
        clock: Arc<dyn Clock>,
        policy: TokenPolicy,
        app_key: &str,
        holder: String,
    ) -> Tokens {
        Tokens {
            cache,
            clock,
            policy,
            keys: Keys::new(app_key),
            app_key: app_key.to_owned(),
            holder,
            local: tokio::sync::Mutex::new(()),
            published: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn usable(&self, token: &CachedToken, rejected: Option<&Secret>) -> bool {
        self.clock.now()
            < token
                .expires_at
                .plus_millis(-millis(self.policy.refresh_ahead))
            && rejected.is_none_or(|r| r != &token.value)
    }

    /// The stored refresh token of an ISV app, if a refresh stored one.
    pub(super) async fn stored_refresh_token(&self) -> Result<Option<Secret>, RepositoryError> {
        Ok(self.cache.get(&self.keys.refresh).await?.map(|t| t.value))
    }

    /// The budget as stored.
    pub(super) async fn budget(&self) -> Result<TokenBudget, RepositoryError> {
        let calls = self.calls().await?;
        let token = self.cache.get(&self.keys.token).await?;
        let budget = TokenBudget {
            used: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            limit: self.policy.budget,
            reserve: self.policy.reserve,
            last_call: calls.last().copied(),
            token_expires_at: token.map(|t| t.expires_at),
        };
        self.publish(&budget);
        Ok(budget)
    }

    fn publish(&self, budget: &TokenBudget) {
        metrics::gauge!("fapiao_nuonuo_token_calls_30d", "app_key" => self.app_key.clone())
            .set(f64::from(budget.used));
        metrics::gauge!("fapiao_nuonuo_token_calls_limit", "app_key" => self.app_key.clone())
            .set(f64::from(budget.limit));
    }

    /// The call times of the current window, oldest first; unreadable entries are dropped.
    async fn calls(&self) -> Result<Vec<Timestamp>, RepositoryError> {
        let since = self.clock.now().plus_millis(-BUDGET_WINDOW_MILLIS);
        let Some(stored) = self.cache.get(&self.keys.calls).await? else {
            return Ok(Vec::new());
        };
        let mut calls: Vec<Timestamp> = stored
            .value
            .expose()
            .split(',')
            .filter_map(|t| t.trim().parse::<i64>().ok())
            .map(Timestamp::from_millis)
            .filter(|t| *t > since)
            .collect();
        calls.sort();
        Ok(calls)
    }

    async fn record_call(&self, mut calls: Vec<Timestamp>) -> Result<TokenBudget, RepositoryError> {
        let now = self.clock.now();
        calls.push(now);
        let text = calls
            .iter()
            .map(|t| t.millis().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let entry = CachedToken {
            value: Secret::new(text),
            expires_at: now.plus_millis(BUDGET_WINDOW_MILLIS),
        };
        self.cache.put(&self.keys.calls, &entry).await?;
        let budget = TokenBudget {
            used: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            limit: self.policy.budget,
            reserve: self.policy.reserve,
            last_call: Some(now),
            token_expires_at: None,
        };
        self.publish(&budget);
        Ok(budget)
    }

    /// The token, fetching one with `fetch` only when none usable is stored, nobody else is
    /// fetching, and the budget allows it. `rejected` is a token Nuonuo just refused (070301).
    pub(super) async fn get_or_fetch<F, Fut>(
        &self,
        rejected: Option<&Secret>,
        fetch: F,
    ) -> Result<Secret, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FreshToken, TokenError>>,
    {
        let key = self.keys.token.as_str();
        if !self
            .published
            .swap(true, std::sync::atomic::Ordering::Relaxed)
            && let Err(error) = self.budget().await
        {
            tracing::warn!(error = %error, "nuonuo token budget not readable");
        }
        if let Some(token) = self.cache.get(key).await?
            && self.usable(&token, rejected)
        {
            return Ok(token.value);
        }
        let _local = self.local.lock().await;
        let lease_ttl = millis(self.policy.lease_ttl);
        let mut waited = Duration::ZERO;
        loop {
            if let Some(token) = self.cache.get(key).await?
                && self.usable(&token, rejected)
            {
                return Ok(token.value);
            }
            let now = self.clock.now();
            if self
                .cache
                .try_acquire_refresh(key, &self.holder, now, now.plus_millis(lease_ttl))
                .await?
            {
                break;
            }
            if waited >= self.policy.lease_ttl * 2 {
                return Err(TokenError::Busy(
                    "nuonuo token: another instance holds the refresh lease; not fetching a second token"
                        .to_owned(),
                ));
            }
            tokio::time::sleep(self.policy.lease_poll).await;
            waited += self.policy.lease_poll;
        }
        let outcome = self.fetch_leased(rejected, fetch).await;
        if let Err(error) = self.cache.release_refresh(key, &self.holder).await {
            tracing::warn!(error = %error, "nuonuo token refresh lease not released");
        }
        outcome
    }

    async fn fetch_leased<F, Fut>(
        &self,
        rejected: Option<&Secret>,
        fetch: F,
    ) -> Result<Secret, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FreshToken, TokenError>>,
    {
        // Another instance may have stored a token between our last look and the lease.
        let cached = self.cache.get(&self.keys.token).await?;
        if let Some(token) = &cached
            && self.usable(token, rejected)
        {
            return Ok(token.value.clone());
        }
        let still_valid = cached
            .as_ref()
            .filter(|t| self.clock.now() < t.expires_at && rejected.is_none_or(|r| r != &t.value));
        let calls = self.calls().await?;
        let used = u32::try_from(calls.len()).unwrap_or(u32::MAX);
        let allowed = self.policy.budget.saturating_sub(self.policy.reserve);
        let refusal = if used >= allowed {
            Some(format!(
                "nuonuo token budget: {used} of {} token calls used in the last 30 days; the last {} are kept for an operator (070306 locks the app out)",
                self.policy.budget, self.policy.reserve
            ))
        } else if let Some(last) = calls.last()
            && self.clock.now() < last.plus_millis(millis(self.policy.min_interval))
        {
            Some(format!(
                "nuonuo token: the last token call was {} s ago (at least {} s apart); a token refused so soon means wrong credentials or app type",
                self.clock.now().millis().saturating_sub(last.millis()) / 1000,
                self.policy.min_interval.as_secs()
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            // A token that is due but not expired still works; use it rather than fail.
            if let Some(token) = still_valid {
                return Ok(token.value.clone());
            }
            return Err(TokenError::Budget(message));
        }
        // Counted before the call: a call whose answer is lost still counts at Nuonuo.
        self.record_call(calls).await?;
        match fetch().await {
            Ok(fresh) => {
                metrics::counter!("fapiao_nuonuo_token_refreshes_total", "app_key" => self.app_key.clone())
                    .increment(1);
                let now = self.clock.now();
                let token = CachedToken {
                    value: fresh.value.clone(),
                    expires_at: now.plus_millis(fresh.expires_in.max(0).saturating_mul(1000)),
                };
                self.cache.put(&self.keys.token, &token).await?;
                if let Some(refresh) = fresh.refresh_token {
                    let entry = CachedToken {
                        value: refresh,
                        expires_at: now.plus_millis(BUDGET_WINDOW_MILLIS),
                    };
                    self.cache.put(&self.keys.refresh, &entry).await?;
                }
                Ok(fresh.value)
            }
            Err(error) => match still_valid {
                Some(token) => {
                    tracing::warn!(error = %error, "nuonuo token refresh failed; using the stored one until it expires");
                    Ok(token.value.clone())
                }
                None => Err(error),
            },
        }
    }
}
