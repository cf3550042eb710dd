//! [`ReqwestWeixinClient`]: every invoice endpoint over one pooled reqwest client, with the
//! access token and `wx_card` ticket of several accounts (Official Account, Mini Program, Open
//! Platform app) managed by a [`TokenManager`].
//!
//! Error handling, in order: a token errcode (40001/40014/42001/41001) marks the refused token
//! unusable (a different token stored meanwhile by another caller is used as is), refreshes
//! once and retries once; errcode -1,
//! 5xx and transport failures are retried with exponential backoff when a repeat cannot apply
//! the request twice; everything else is returned unchanged for the workflow to act on.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::AppId;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use fapiao_domain::ports::{Clock, TokenCache};
use fapiao_domain::weixin::ErrorClass;

use crate::error::CallError;
use crate::token::{
    Fetched, InMemoryTokenCache, SystemClock, TokenKind, TokenManager, TokenSettings, cache_key,
};
use crate::wire::{self, ApiStatus, Endpoint, Method, WeixinRequest};

/// Weixin's API host.
pub const LIVE_BASE_URL: &str = "https://api.weixin.qq.com";

/// Largest answer body read; Weixin's answers are a few KB.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One Weixin account the client may call as.
#[derive(Clone)]
pub struct Account {
    /// Its appid.
    pub appid: AppId,
    /// Its AppSecret.
    pub secret: SecretString,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("appid", &self.appid)
            .field("secret", &"***")
            .finish()
    }
}

impl Account {
    /// An account.
    pub fn new(appid: AppId, secret: impl Into<String>) -> Self {
        Self {
            appid,
            secret: SecretString::from(secret.into()),
        }
    }
}

/// Which endpoint issues access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenEndpoint {
    /// `POST /cgi-bin/stable_token`: does not rotate on every fetch, 10 000 calls a minute;
    /// several instances or tools fetching do not invalidate each other's token.
    #[default]
    Stable,
    /// `GET /cgi-bin/token`: every fetch rotates the token; 2000 calls a day.
    Classic,
}

/// Where `getpdf` carries `action=get_url` (reference §4.13: body per the documentation, query
/// per wechatpy; unconfirmed which the live service requires).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GetPdfAction {
    /// In the JSON body, as documented.
    #[default]
    Body,
    /// In the query string, as wechatpy sends it.
    Query,
    /// In both.
    Both,
}

/// Immediate retries of transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2).
    pub max_retries: u32,
    /// Delay before the first retry, doubled each time (default 200 ms).
    pub base_delay: Duration,
    /// Upper bound of the delay (default 2 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// No immediate retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    fn delay(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Configuration of [`ReqwestWeixinClient`].
#[derive(Debug, Clone)]
pub struct WeixinConfig {
    /// Live Weixin ([`LIVE_BASE_URL`]) or a local sandbox, without a trailing path.
    pub base_url: String,
    /// TCP/TLS connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout of JSON calls (default 15 s).
    pub request_timeout: Duration,
    /// Whole-request timeout of PDF uploads (default 60 s).
    pub upload_timeout: Duration,
    /// Token endpoint (default stable).
    pub token_endpoint: TokenEndpoint,
    /// Token refresh tuning.
    pub tokens: TokenSettings,
    /// Immediate retries.
    pub retry: RetryPolicy,
    /// Where `getpdf` sends its action.
    pub getpdf_action: GetPdfAction,
    /// The account that called `seturl` and owns the `s_pappid` (the merchant Official Account
    /// in this mode): platform calls and merchant calls without an explicit caller use it.
    pub platform_appid: AppId,
    /// Every account with its secret, the platform account included.
    pub accounts: Vec<Account>,
}

impl WeixinConfig {
    /// Defaults against live Weixin, with one account that is also the platform account.
    pub fn new(platform: Account) -> Self {
        Self {
            base_url: LIVE_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            upload_timeout: Duration::from_secs(60),
            token_endpoint: TokenEndpoint::default(),
            tokens: TokenSettings::default(),
            retry: RetryPolicy::default(),
            getpdf_action: GetPdfAction::default(),
            platform_appid: platform.appid.clone(),
            accounts: vec![platform],
        }
    }

    /// Adds another account (a Mini Program, an Open Platform app).
    #[must_use]
    pub fn with_account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// Points the client at another base URL (a sandbox).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}

/// A request body for one attempt.
#[derive(Clone, Copy)]
enum Payload<'a> {
    /// GET: query pairs.
    Query(&'a [(String, String)]),
    /// POST JSON.
    Json(&'a [u8]),
    /// POST multipart with one `pdf` part.
    Pdf(&'a [u8]),
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    config: WeixinConfig,
    secrets: HashMap<AppId, SecretString>,
    tokens: TokenManager,
}

/// The Weixin invoice API over reqwest. Cheap to clone; clones share the connection pool and
/// the token manager.
#[derive(Clone)]
pub struct ReqwestWeixinClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ReqwestWeixinClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestWeixinClient")
            .field("base_url", &self.inner.base_url)
            .field("platform_appid", &self.inner.config.platform_appid)
            .field("accounts", &self.inner.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ReqwestWeixinClient {
    /// A client with a process-local token cache and the system clock.
    ///
    /// # Errors
    /// [`CallError::Invalid`] when the HTTP client cannot be built or the platform account
    /// has no secret.
    pub fn new(config: WeixinConfig) -> Result<Self, CallError> {
        Self::with_cache(
            config,
            Arc::new(InMemoryTokenCache::new()),
            Arc::new(SystemClock),
        )
    }

    /// A client sharing tokens through `cache`.
    ///
    /// # Errors
    /// As [`ReqwestWeixinClient::new`].
    pub fn with_cache(
        config: WeixinConfig,
        cache: Arc<dyn TokenCache>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CallError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("fapiao-weixin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Invalid(format!("http client: {}", e.without_url())))?;
        let secrets: HashMap<AppId, SecretString> = config
            .accounts
            .iter()
            .map(|a| (a.appid.clone(), a.secret.clone()))
            .collect();
        if !secrets.contains_key(&config.platform_appid) {
            return Err(CallError::UnknownAccount(config.platform_appid.to_string()));
        }
        let tokens = TokenManager::new(cache, clock, config.tokens.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.trim_end_matches('/').to_owned(),
                config,
                secrets,
                tokens,
            }),
        })
    }

    /// The account that owns the `s_pappid`.
    pub fn platform_appid(&self) -> &AppId {
        &self.inner.config.platform_appid
    }

    /// The configuration.
    pub fn config(&self) -> &WeixinConfig {
        &self.inner.config
    }

    /// The current access token of `appid`, fetched if none is fresh.
    ///
    /// # Errors
    /// [`CallError::UnknownAccount`], or the token endpoint's error.
    pub async fn access_token(&self, appid: &AppId) -> Result<SecretString, CallError> {
        self.access_token_avoiding(appid, None).await
    }

    /// Like [`Self::access_token`]; with `rejected`, a stable token equal to the rejected one
    /// is force-refreshed once (normal stable fetches return the same token until its last
    /// five minutes).
    async fn access_token_avoiding(
        &self,
        appid: &AppId,
        rejected: Option<&SecretString>,
    ) -> Result<SecretString, CallError> {
        let secret = self
            .inner
            .secrets
            .get(appid)
            .ok_or_else(|| CallError::UnknownAccount(appid.to_string()))?;
        let key = cache_key(TokenKind::AccessToken, appid);
        self.inner
            .tokens
            .get_or_fetch(&key, rejected, || async move {
                let fetched = self.fetch_access_token(appid, secret, false).await?;
                match (self.inner.config.token_endpoint, rejected) {
                    (TokenEndpoint::Stable, Some(rejected))
                        if fetched.value.expose_secret() == rejected.expose_secret() =>
                    {
                        tracing::info!(%appid, "stable token unchanged after rejection; forcing a refresh");
                        self.fetch_access_token(appid, secret, true).await
                    }
                    _ => Ok(fetched),
                }
            })
            .await
    }

    async fn fetch_access_token(
        &self,
        appid: &AppId,
        secret: &SecretString,
        force_refresh: bool,
    ) -> Result<Fetched, CallError> {
        let response: wire::TokenResponse = match self.inner.config.token_endpoint {
            TokenEndpoint::Stable => {
                let request = wire::StableTokenRequest {
                    grant_type: "client_credential",
                    appid: appid.as_str(),
                    secret,
                    force_refresh,
                };
                let body = to_json(&request)?;
                self.call_without_token(
                    appid,
                    wire::StableTokenRequest::ENDPOINT,
                    Payload::Json(&body),
                )
                .await?
            }
            TokenEndpoint::Classic => {
                let request = wire::TokenRequest {
                    grant_type: "client_credential",
                    appid: appid.as_str(),
                    secret,
                };
                let query = to_query(&request)?;
                self.call_without_token(appid, wire::TokenRequest::ENDPOINT, Payload::Query(&query))
                    .await?
            }
        };
        if response.access_token.expose_secret().is_empty() {
            return Err(CallError::Decode {
                endpoint: "token",
                reason: "empty access_token".to_owned(),
            });
        }
        Ok(Fetched {
            value: response.access_token,
            expires_in: response.expires_in,
        })
    }

    /// The `wx_card` ticket of `appid` (for `getauthurl`), fetched if none is fresh.
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub async fn wx_card_ticket(&self, appid: &AppId) -> Result<SecretString, CallError> {
        let key = cache_key(TokenKind::WxCardTicket, appid);
        self.inner
            .tokens
            .get_or_fetch(&key, None, || async {
                let response = self.execute(appid, &wire::TicketRequest::WX_CARD).await?;
                if response.ticket.expose_secret().is_empty() {
                    return Err(CallError::Decode {
                        endpoint: "getticket",
                        reason: "empty ticket".to_owned(),
                    });
                }
                Ok(Fetched {
                    value: response.ticket,
                    expires_in: response.expires_in,
                })
            })
            .await
    }

    /// Calls `request`'s endpoint as `appid`.
    ///
    /// # Errors
    /// [`CallError`]; token errors have already been retried once, transient ones per the
    /// [`RetryPolicy`].
    pub async fn execute<R: WeixinRequest>(
        &self,
        appid: &AppId,
        request: &R,
    ) -> Result<R::Response, CallError> {
        match R::ENDPOINT.method {
            Method::Get => {
                let query = to_query(request)?;
                self.call(appid, R::ENDPOINT, &[], Payload::Query(&query))
                    .await
            }
            Method::Post => {
                let body = to_json(request)?;
                self.call(appid, R::ENDPOINT, &[], Payload::Json(&body))
                    .await
            }
        }
    }

    /// `seturl`, and the `s_pappid` taken out of its `invoice_url`.
    ///
    /// # Errors
    /// As [`Self::execute`]; [`CallError::Decode`] when the URL has no `s_pappid`.
    pub async fn fetch_s_pappid(&self, appid: &AppId) -> Result<String, CallError> {
        let response = self.execute(appid, &wire::SetUrlRequest {}).await?;
        response.s_pappid().ok_or_else(|| CallError::Decode {
            endpoint: wire::SetUrlRequest::ENDPOINT.name,
            reason: "invoice_url has no s_pappid".to_owned(),
        })
    }

    /// `platform/setpdf`: uploads a PDF as the multipart part `pdf`.
    ///
    /// # Errors
    /// As [`Self::execute`]; [`CallError::Invalid`] when the bytes do not start like a PDF.
    pub async fn upload_pdf(
        &self,
        appid: &AppId,
        pdf: &[u8],
    ) -> Result<wire::SetPdfResponse, CallError> {
        if !pdf.starts_with(b"%PDF-") {
            return Err(CallError::Invalid(
                "setpdf: the file does not start with %PDF- (Weixin answers 72040)".to_owned(),
            ));
        }
        self.call(appid, wire::SetPdfRequest::ENDPOINT, &[], Payload::Pdf(pdf))
            .await
    }

    /// `platform/getpdf`, with `action` placed per [`GetPdfAction`].
    ///
    /// # Errors
    /// As [`Self::execute`].
    pub async fn get_pdf(
        &self,
        appid: &AppId,
        s_media_id: &str,
    ) -> Result<wire::GetPdfResponse, CallError> {
        let placement = self.inner.config.getpdf_action;
        let request = wire::GetPdfRequest {
            action: (placement != GetPdfAction::Query).then_some(wire::GetPdfRequest::ACTION),
            s_media_id: s_media_id.to_owned(),
        };
        let body = to_json(&request)?;
        let query: &[(&str, &str)] = if placement == GetPdfAction::Body {
            &[]
        } else {
            &[("action", wire::GetPdfRequest::ACTION)]
        };
        self.call(
            appid,
            wire::GetPdfRequest::ENDPOINT,
            query,
            Payload::Json(&body),
        )
        .await
    }

    /// One logical call with an access token: token retry, transient retries, a span.
    async fn call<T: DeserializeOwned>(
        &self,
        appid: &AppId,
        endpoint: Endpoint,
        extra_query: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<T, CallError> {
        let span = tracing::info_span!(
            "weixin.call",
            endpoint = endpoint.name,
            appid = %appid,
            errcode = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        async move {
            let mut rejected: Option<SecretString> = None;
            let mut retries = 0_u32;
            let mut attempts = 0_u32;
            let outcome = loop {
                attempts += 1;
                let token = match self.access_token_avoiding(appid, rejected.as_ref()).await {
                    Ok(token) => token,
                    Err(error) => break Err(error),
                };
                let error = match self.send::<T>(endpoint, Some(&token), extra_query, payload).await {
                    Ok(value) => break Ok(value),
                    Err(error) => error,
                };
                if error.class() == ErrorClass::Token && rejected.is_none() {
                    tracing::info!(errcode = error.errcode(), "access token refused; refreshing once");
                    rejected = Some(token);
                    continue;
                }
                if error.retry_now(endpoint.idempotent) && retries < self.inner.config.retry.max_retries {
                    retries += 1;
                    let delay = self.inner.config.retry.delay(retries);
                    tracing::warn!(error = %error, errcode = error.errcode(), retry = retries, ?delay, "transient weixin failure; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                break Err(error);
            };
            finish_span(attempts, &outcome);
            outcome
        }
        .instrument(span)
        .await
    }

    /// A call made with the account's secret instead of a token (the token endpoints).
    async fn call_without_token<T: DeserializeOwned>(
        &self,
        appid: &AppId,
        endpoint: Endpoint,
        payload: Payload<'_>,
    ) -> Result<T, CallError> {
        let span = tracing::info_span!(
            "weixin.call",
            endpoint = endpoint.name,
            appid = %appid,
            errcode = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        async move {
            let mut retries = 0_u32;
            let outcome = loop {
                match self.send::<T>(endpoint, None, &[], payload).await {
                    Ok(value) => break Ok(value),
                    Err(error)
                        if error.retry_now(endpoint.idempotent)
                            && retries < self.inner.config.retry.max_retries =>
                    {
                        retries += 1;
                        let delay = self.inner.config.retry.delay(retries);
                        tracing::warn!(error = %error, errcode = error.errcode(), retry = retries, ?delay, "transient weixin failure; retrying");
                        tokio::time::sleep(delay).await;
                    }
                    Err(error) => break Err(error),
                }
            };
            finish_span(retries + 1, &outcome);
            outcome
        }
        .instrument(span)
        .await
    }

    /// One HTTP attempt: send, read, check status and errcode, parse.
    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        token: Option<&SecretString>,
        extra_query: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<T, CallError> {
        let url = format!("{}{}", self.inner.base_url, endpoint.path);
        let method = match endpoint.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.inner.http.request(method, url);
        if let Some(token) = token {
            builder = builder.query(&[("access_token", token.expose_secret())]);
        }
        if let Some(action) = endpoint.action {
            builder = builder.query(&[("action", action)]);
        }
        if !extra_query.is_empty() {
            builder = builder.query(extra_query);
        }
        builder = match payload {
            Payload::Query(pairs) => builder.query(pairs),
            Payload::Json(body) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.to_vec()),
            Payload::Pdf(bytes) => {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name("invoice.pdf")
                    .mime_str("application/pdf")
                    .map_err(CallError::transport)?;
                builder
                    .multipart(
                        reqwest::multipart::Form::new().part(wire::SetPdfRequest::PART, part),
                    )
                    .timeout(self.inner.config.upload_timeout)
            }
        };
        let response = builder.send().await.map_err(CallError::transport)?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(CallError::Decode {
                endpoint: endpoint.name,
                reason: "answer larger than 1 MiB".to_owned(),
            });
        }
        let bytes = response.bytes().await.map_err(CallError::transport)?;
        tracing::debug!(
            http_status = status.as_u16(),
            bytes = bytes.len(),
            "weixin answered"
        );
        if !status.is_success() {
            return Err(CallError::Http {
                status: status.as_u16(),
            });
        }
        parse_answer(endpoint.name, &bytes)
    }
}

/// 72028 ("invoice never set pay mch info") is how `get_pay_mch` says there is no binding yet:
/// setup probes it on every healthy first start, so it is news, not a warning.
const EXPECTED_PROBE_ERRCODE: i64 = 72028;

/// Records the outcome on the current `weixin.call` span and logs a failure once.
fn finish_span<T>(attempts: u32, outcome: &Result<T, CallError>) {
    let span = tracing::Span::current();
    span.record("attempts", attempts);
    match outcome {
        Ok(_) => {
            span.record("errcode", 0);
        }
        Err(error) => {
            if let Some(errcode) = error.errcode() {
                span.record("errcode", errcode);
            }
            if error.errcode() == Some(EXPECTED_PROBE_ERRCODE) {
                tracing::info!(error = %error, "weixin: not set yet");
            } else {
                tracing::warn!(error = %error, class = ?error.class(), "weixin call failed");
            }
        }
    }
}

/// Checks `errcode`, then parses the typed answer.
pub(crate) fn parse_answer<T: DeserializeOwned>(
    endpoint: &'static str,
    bytes: &[u8],
) -> Result<T, CallError> {
    let status: ApiStatus = serde_json::from_slice(bytes).map_err(|e| CallError::Decode {
        endpoint,
        reason: e.to_string(),
    })?;
    if !status.is_ok() {
        return Err(CallError::Api {
            errcode: status.errcode,
            errmsg: status.errmsg,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| CallError::Decode {
        endpoint,
        reason: e.to_string(),
    })
}

fn to_json<T: serde::Serialize>(request: &T) -> Result<Vec<u8>, CallError> {
    serde_json::to_vec(request).map_err(|e| CallError::Invalid(e.to_string()))
}

/// Flattens a request struct into query pairs (GET endpoints take only scalars).
fn to_query<T: serde::Serialize>(request: &T) -> Result<Vec<(String, String)>, CallError> {
    let value = serde_json::to_value(request).map_err(|e| CallError::Invalid(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(CallError::Invalid(
            "query request is not a struct".to_owned(),
        ));
    };
    map.into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(s) => Ok((name, s)),
            serde_json::Value::Number(n) => Ok((name, n.to_string())),
            serde_json::Value::Bool(b) => Ok((name, b.to_string())),
            _ => Err(CallError::Invalid(format!(
                "query field {name} is not a scalar"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests;
