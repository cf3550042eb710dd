//! The Nuonuo (诺税通saas, `nuonuo.OpeMplatform.*`) issuer: the `InvoiceIssuer` port on Nuonuo's
//! open platform, per `docs/issuers/nuonuo.md` and the tax-platform reference §1.
//!
//! - Every business call is `POST {base}/open/v1/services?senid&nonce&timestamp&appkey` with the
//!   five headers and `X-Nuonuo-Sign` over the exact body bytes sent ([`sign`]).
//! - The access token lives in the shared `TokenCache`, refreshed by one caller across the
//!   instances, with the 50-calls-per-30-days budget counted and guarded ([`token`]).
//! - `issue` is `requestBillingNew` with `orderNo` = the idempotency key (≤ 20 ASCII letters and
//!   digits, the same on every retry). Nuonuo issues asynchronously: `issue` answers `Pending`
//!   with the serial, `query` (`queryInvoiceResult` by `orderNo`) says when it is done.
//!   `E9106` (duplicate order number) means the order exists: it is queried, never failed.
//! - Errors are classified per §1.12: refused before the business service saw the call
//!   (`040102`, `070201`, connect failures) is [`IssueError::NotSent`]; lost or garbled after
//!   sending (timeouts, `5xx`, `0200`/`0202`/`0203`, an unreadable answer) is
//!   [`IssueError::OutcomeUnknown`] for calls that change something and [`IssueError::Other`]
//!   for reads; credentials, grants and tax-id mismatches are [`IssueError::Configuration`];
//!   validation codes (`E4000`, `E91xx`, …) reject the invoice.
//! - Reversal is the 数电 红字确认单 flow (§1.9): the form is saved with `billId` = `orderNo` =
//!   the red key, polled until the bureau has issued the red invoice, which is then queried.
//! - No redirects on API calls; the PDF is fetched from `pdfUrl` (up to 3 redirects, size and
//!   `%PDF-` checked).

mod config;
mod errors;
pub mod sign;
pub mod token;
pub mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fapiao_domain::IssueKey;
use fapiao_domain::Secret;
use fapiao_domain::Timestamp;
use fapiao_domain::invoice::{InvoiceKind, IssuedInvoice, MAX_LINES, RedLink};
use fapiao_domain::ports::{
    Clock, InvoiceIssuer, IssueError, IssueOutcome, IssueRejection, IssueRequest,
    IssuerCapabilities, MAX_PDF_BYTES, PdfDocument, ReverseOutcome, ReverseRequest, TokenCache,
};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;

pub use config::{AppType, NuonuoConfig, NuonuoConfigError};
pub use errors::NuonuoError;
pub use token::{TokenBudget, TokenPolicy};

use crate::nuonuo::errors::{
    Method, after_sending, bad_body, chain, code_error, encode, rejects_data, session_cause,
    transport_error,
};

use crate::nuonuo::sign::SignParams;
use crate::nuonuo::token::{FreshToken, TokenError, Tokens};
use crate::nuonuo::wire::{Envelope, InvoiceStatus};

/// Production business endpoint.
pub const PRODUCTION_SERVICES_URL: &str = "https://sdk.nuonuo.com/open/v1/services";
/// Sandbox business endpoint.
pub const SANDBOX_SERVICES_URL: &str = "https://sandbox.nuonuocs.cn/open/v1/services";
/// Token endpoint (sandbox and production).
pub const TOKEN_URL: &str = "https://open.nuonuo.com/accessToken";
/// The path every business call goes to; the signature hard-codes it.
pub const SERVICES_PATH: &str = "/open/v1/services";
/// `sdkVer` header ("不参与签名, 预留字段").
pub const SDK_VERSION: &str = "1.0.1";
/// Largest JSON answer read.
const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The Nuonuo issuer, an [`InvoiceIssuer`]. Cheap to share; calls share one connection pool.
pub struct NuonuoIssuer {
    http: reqwest::Client,
    pdf_http: reqwest::Client,
    config: NuonuoConfig,
    clock: Arc<dyn Clock>,
    tokens: Tokens,
    // Order numbers this process saw accepted, with when: right after accepting, the query
    // service may not know an order yet (E9500), which then means "pending", not "never seen".
    accepted: std::sync::Mutex<std::collections::HashMap<String, Timestamp>>,
    // Order numbers whose bureau-login failure this process reported: the workflow stops and
    // waits for the operator, so the next look at one of them follows the operator's retry
    // (the drawer logged in again) and sends `reInvoice`.
    session_reported: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// How long after acceptance `E9500` still means "pending" (reference §1.8).
const UNKNOWN_GRACE_MILLIS: i64 = 120_000;

impl fmt::Debug for NuonuoIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NuonuoIssuer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// 16 random bytes as 32 lower-case hex digits, or `None` when the system has no randomness.
fn random_hex32() -> Option<String> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An 8-digit random positive integer.
fn random_nonce() -> Option<String> {
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).ok()?;
    Some((10_000_000 + u32::from_be_bytes(bytes) % 90_000_000).to_string())
}

/// `application/x-www-form-urlencoded` of `pairs` (RFC 3986 unreserved characters kept).
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|length| usize::try_from(length).map_or(true, |length| length > limit))
    {
        return Err(format!("larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| chain(&e.without_url()))?
    {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(format!("larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl NuonuoIssuer {
    /// A Nuonuo issuer keeping its token in `cache` (shared by every instance).
    ///
    /// # Errors
    /// [`NuonuoConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(
        config: NuonuoConfig,
        cache: Arc<dyn TokenCache>,
        clock: Arc<dyn Clock>,
    ) -> Result<NuonuoIssuer, NuonuoConfigError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            // A redirect could repeat a signed POST elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fapiao-issuer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NuonuoConfigError::Client)?;
        let pdf_http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("fapiao-issuer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NuonuoConfigError::Client)?;
        let holder = random_hex32().unwrap_or_else(|| format!("pid{}", std::process::id()));
        let tokens = Tokens::new(
            cache,
            clock.clone(),
            config.token_policy.clone(),
            &config.app_key,
            holder,
        );
        Ok(NuonuoIssuer {
            http,
            pdf_http,
            config,
            clock,
            tokens,
            accepted: std::sync::Mutex::new(std::collections::HashMap::new()),
            session_reported: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NuonuoConfig {
        &self.config
    }

    /// The token calls of the current 30-day window, as stored (also published as the
    /// `fapiao_nuonuo_token_calls_30d` gauge).
    ///
    /// # Errors
    /// [`IssueError::Other`] when the token cache fails.
    pub async fn token_budget(&self) -> Result<TokenBudget, IssueError> {
        self.tokens
            .budget()
            .await
            .map_err(|e| IssueError::Other(Box::new(e)))
    }

    /// A harmless signed call (`queryInvoiceResult` of an order number never used) that proves
    /// the credentials, the token and the seller's tax id; for `doctor`.
    ///
    /// # Errors
    /// The classified [`IssueError`].
    pub async fn check_credentials(&self) -> Result<(), IssueError> {
        let body = encode(
            Method::Query,
            &wire::QueryRequest::by_order_no("FAPIAODOCTOR0000000"),
        )?;
        let envelope = self.call(Method::Query, body).await?;
        if Method::Query.succeeded(&envelope.code) || envelope.code == "E9500" {
            Ok(())
        } else {
            Err(code_error(
                Method::Query,
                &envelope.code,
                &envelope.describe,
            ))
        }
    }

    async fn token(&self, rejected: Option<&Secret>) -> Result<Secret, IssueError> {
        self.tokens
            .get_or_fetch(rejected, || self.fetch_token())
            .await
            .map_err(|error| match error {
                TokenError::Cache(e) => IssueError::Other(Box::new(e)),
                TokenError::Budget(message) => IssueError::Configuration(message),
                TokenError::Busy(message) => IssueError::NotSent(message),
                TokenError::Fetch {
                    message,
                    refused: true,
                    ..
                } => IssueError::Configuration(message),
                // A token call changes nothing at the business service: the call itself was
                // not sent.
                TokenError::Fetch { message, .. } => IssueError::NotSent(message),
            })
    }

    /// One token call (counted by the caller).
    async fn fetch_token(&self) -> Result<FreshToken, TokenError> {
        let secret = self.config.app_secret.expose_secret();
        let stored_refresh;
        let form = match &self.config.app_type {
            AppType::SelfUse => form_encode(&[
                ("client_id", &self.config.app_key),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
            ]),
            AppType::Isv {
                user_id,
                refresh_token,
            } => {
                stored_refresh = self.tokens.stored_refresh_token().await?;
                let refresh = stored_refresh
                    .as_ref()
                    .map_or(refresh_token.expose_secret(), |t| t.expose());
                form_encode(&[
                    ("client_id", user_id),
                    ("client_secret", secret),
                    ("refresh_token", refresh),
                    ("grant_type", "refresh_token"),
                ])
            }
        };
        let failed = |message: String, sent: bool| TokenError::Fetch {
            message,
            refused: false,
            sent,
        };
        let response = self
            .http
            .post(&self.config.token_url)
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                failed(format!("nuonuo token: {}", chain(&e)), !e.is_connect())
            })?;
        let status = response.status();
        let body = read_body(response, MAX_JSON_BYTES)
            .await
            .map_err(|e| failed(format!("nuonuo token: {e}"), true))?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            failed(
                format!("nuonuo token: HTTP {} answer is not JSON", status.as_u16()),
                true,
            )
        })?;
        let text = |name: &str| match value.get(name) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let Some(code) = text("error") {
            let description = text("error_description").unwrap_or_default();
            let hint = match code.as_str() {
                "070304" | "070305" => "check issuer.nuonuo.app_key and app_secret",
                "070306" => "over the 50 token calls per 30 days: wait or ask Nuonuo to reset",
                "070307" => "wrong app type: check issuer.nuonuo.app_type (self_use or isv)",
                "070315" => "wrong content type",
                _ => "token refused",
            };
            return Err(TokenError::Fetch {
                message: format!("nuonuo token: {code} {description} ({hint})"),
                refused: true,
                sent: true,
            });
        }
        let token = text("access_token").ok_or_else(|| {
            failed(
                format!(
                    "nuonuo token: HTTP {} answer: access_token: required",
                    status.as_u16()
                ),
                true,
            )
        })?;
        let expires_in = match text("expires_in") {
            None => 86_400,
            Some(text) => text.parse::<i64>().map_err(|_| {
                failed(
                    format!("nuonuo token: expires_in: {text:?} is not a number of seconds"),
                    true,
                )
            })?,
        };
        Ok(FreshToken {
            value: Secret::new(token),
            expires_in,
            refresh_token: text("refresh_token").map(Secret::new),
        })
    }

    /// Sends one business call with `token` and reads the envelope.
    async fn send(
        &self,
        method: Method,
        token: &Secret,
        body: &[u8],
    ) -> Result<Envelope, IssueError> {
        let not_sent =
            |what: &str| IssueError::NotSent(format!("nuonuo {}: {what}", method.name()));
        let senid = random_hex32().ok_or_else(|| not_sent("no randomness for senid"))?;
        let nonce = random_nonce().ok_or_else(|| not_sent("no randomness for nonce"))?;
        let timestamp = self.clock.now().unix_seconds().to_string();
        let params = SignParams {
            app_key: &self.config.app_key,
            senid: &senid,
            nonce: &nonce,
            timestamp: &timestamp,
        };
        let signature = sign::sign(self.config.app_secret.expose_secret(), &params, body);
        let url = format!(
            "{}?senid={senid}&nonce={nonce}&timestamp={timestamp}&appkey={}",
            self.config.services_url, self.config.app_key
        );
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json;charset=utf-8")
            .header("X-Nuonuo-Sign", signature)
            .header("accessToken", token.expose())
            .header("userTax", &self.config.seller_tax_id)
            .header("method", method.name())
            .header("sdkVer", SDK_VERSION)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| transport_error(method, e))?;
        let status = response.status();
        let answer = read_body(response, MAX_JSON_BYTES).await;
        if !status.is_success() {
            return Err(after_sending(
                method,
                NuonuoError::Status {
                    method: method.name(),
                    status: status.as_u16(),
                },
            ));
        }
        let answer = answer.map_err(|reason| {
            after_sending(
                method,
                NuonuoError::Body {
                    method: method.name(),
                    reason,
                },
            )
        })?;
        Envelope::parse(&answer).map_err(|e| bad_body(method, &e))
    }

    /// A business call: token, send, and on `070301` (token refused) one refresh and one
    /// resend — safe for every method because Nuonuo refused the call before acting on it.
    async fn call(&self, method: Method, body: Vec<u8>) -> Result<Envelope, IssueError> {
        let token = self.token(None).await?;
        let envelope = self.send(method, &token, &body).await?;
        let code: String = envelope.code.chars().take(8).collect();
        metrics::counter!("fapiao_nuonuo_calls_total", "method" => method.name(), "code" => code)
            .increment(1);
        tracing::debug!(method = method.name(), code = %envelope.code, "nuonuo call");
        if envelope.code != "070301" {
            return Ok(envelope);
        }
        tracing::warn!(
            method = method.name(),
            "nuonuo refused the access token; refreshing once"
        );
        let fresh = self.token(Some(&token)).await?;
        self.send(method, &fresh, &body).await
    }

    fn accepted(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Timestamp>> {
        // Plain data: still valid after a panic elsewhere.
        self.accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers that `order_no` was accepted now (and forgets acceptances past the grace).
    fn note_accepted(&self, order_no: &str) {
        let now = self.clock.now();
        let mut accepted = self.accepted();
        accepted.retain(|_, at| now.millis().saturating_sub(at.millis()) < UNKNOWN_GRACE_MILLIS);
        accepted.insert(order_no.to_owned(), now);
    }

    /// Whether `order_no` was accepted within the grace window.
    fn recently_accepted(&self, order_no: &str) -> bool {
        let now = self.clock.now();
        self.accepted()
            .get(order_no)
            .is_some_and(|at| now.millis().saturating_sub(at.millis()) < UNKNOWN_GRACE_MILLIS)
    }

    async fn query_invoice(
        &self,
        order_no: &str,
    ) -> Result<Option<wire::QueriedInvoice>, IssueError> {
        let method = Method::Query;
        let body = encode(method, &wire::QueryRequest::by_order_no(order_no))?;
        let envelope = self.call(method, body).await?;
        if envelope.code == "E9500" {
            return Ok(None);
        }
        if !method.succeeded(&envelope.code) {
            return Err(code_error(method, &envelope.code, &envelope.describe));
        }
        wire::queried_invoice(&envelope, order_no).map_err(|e| bad_body(method, &e))
    }

    /// `reInvoice` of a failed or unsealed invoice; `E9613` (20 a day) is reported, not fatal.
    async fn re_invoice(&self, order_no: &str) -> Result<(), IssueError> {
        let method = Method::ReInvoice;
        let body = encode(method, &wire::ReInvoiceRequest::new(order_no))?;
        let envelope = self.call(method, body).await?;
        if method.succeeded(&envelope.code) {
            metrics::counter!("fapiao_nuonuo_reinvoice_total").increment(1);
            return Ok(());
        }
        if envelope.code == "E9613" {
            return Err(IssueError::Other(Box::new(NuonuoError::Code {
                method: method.name(),
                code: envelope.code,
                describe: format!(
                    "{} (reInvoice limit of 20 a day reached; retried tomorrow)",
                    envelope.describe
                ),
            })));
        }
        Err(code_error(method, &envelope.code, &envelope.describe))
    }

    /// The port's view of a queried invoice; `retry_failed` sends `reInvoice` for a failure the
    /// platform can retry (a bureau session that was renewed since).
    async fn outcome(
        &self,
        order_no: &str,
        queried: wire::QueriedInvoice,
        retry_failed: bool,
    ) -> Result<IssueOutcome, IssueError> {
        match queried.status {
            InvoiceStatus::Issued(invoice) => Ok(IssueOutcome::Issued(invoice)),
            InvoiceStatus::Pending(serial) => Ok(IssueOutcome::Pending(serial)),
            InvoiceStatus::SealFailed(serial) => {
                self.re_invoice(order_no).await?;
                Ok(IssueOutcome::Pending(serial))
            }
            InvoiceStatus::Failed { cause } if session_cause(&cause) => {
                let reported = self
                    .session_reported
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(order_no);
                if retry_failed || reported {
                    self.re_invoice(order_no).await?;
                    Ok(IssueOutcome::Pending(None))
                } else {
                    self.session_reported
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(order_no.to_owned());
                    Err(IssueError::SessionRequired(format!(
                        "nuonuo: 开票失败: {cause} (log the drawer in at the bureau, then retry the order)"
                    )))
                }
            }
            InvoiceStatus::Failed { cause } => Ok(IssueOutcome::Rejected(IssueRejection {
                reason: cause,
                code: Some("22".to_owned()),
                // Nuonuo keeps the failed order under this orderNo; changed data needs a new one.
                serial_is_dead: true,
            })),
            InvoiceStatus::Voided => Ok(IssueOutcome::Rejected(IssueRejection {
                reason: "已作废".to_owned(),
                code: Some("3".to_owned()),
                serial_is_dead: true,
            })),
        }
    }

    async fn query_red_form(&self, bill_id: &str) -> Result<Option<wire::RedForm>, IssueError> {
        let method = Method::QueryRed;
        let body = encode(method, &wire::RedConfirmQuery::by_bill_id(bill_id))?;
        let envelope = self.call(method, body).await?;
        if !method.succeeded(&envelope.code) {
            return Err(code_error(method, &envelope.code, &envelope.describe));
        }
        wire::red_form(&envelope, bill_id).map_err(|e| bad_body(method, &e))
    }
}

#[async_trait]
impl InvoiceIssuer for NuonuoIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        IssuerCapabilities {
            name: "nuonuo".to_owned(),
            kinds: vec![InvoiceKind::DigitalOrdinary, InvoiceKind::DigitalSpecial],
            synchronous: false,
            full_reversal: true,
            partial_reversal: false,
            // Nuonuo allows 2000 lines including discount lines.
            max_lines: MAX_LINES.min(2000),
        }
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let method = Method::Billing;
        let order_no = request.key.as_str();
        let context = wire::IssueContext {
            order_no,
            invoice_date: wire::china_date_time(self.clock.now()),
            push_mode: "-1",
            extension_number: self.config.extension_number.as_deref(),
            callback_url: self.config.callback_url.as_deref(),
        };
        let body = encode(method, &wire::BillingRequest::new(&request.draft, &context))?;
        let envelope = self.call(method, body).await?;
        if method.succeeded(&envelope.code) {
            self.note_accepted(order_no);
            let serial = wire::billing_serial(&envelope).map_err(|e| bad_body(method, &e))?;
            return Ok(IssueOutcome::Pending(Some(serial)));
        }
        if envelope.code == "E9106" {
            // The order number is taken: it is this order, sent before (a lost answer, a crash
            // before saving). Its state is what the platform says now.
            metrics::counter!("fapiao_nuonuo_duplicate_order_total").increment(1);
            return match self.query_invoice(order_no).await? {
                Some(queried) => self.outcome(order_no, queried, true).await,
                // Known but not yet queryable (E9500 right after accepting): still pending.
                None => Ok(IssueOutcome::Pending(None)),
            };
        }
        if rejects_data(&envelope.code) {
            return Ok(IssueOutcome::Rejected(IssueRejection {
                reason: envelope.describe,
                code: Some(envelope.code),
                // The order was refused, so its number is still free.
                serial_is_dead: false,
            }));
        }
        Err(code_error(method, &envelope.code, &envelope.describe))
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        match self.query_invoice(key.as_str()).await? {
            // Accepted moments ago: the query service has not caught up yet.
            None if self.recently_accepted(key.as_str()) => Ok(Some(IssueOutcome::Pending(None))),
            None => Ok(None),
            Some(queried) => self.outcome(key.as_str(), queried, false).await.map(Some),
        }
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        _invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        let method = Method::Query;
        let queried = self.query_invoice(key.as_str()).await?.ok_or_else(|| {
            IssueError::NotFound(format!("nuonuo: no invoice with orderNo {key}"))
        })?;
        let url = queried
            .pdf_url
            .ok_or_else(|| bad_body(method, &"pdfUrl: required once the invoice is issued"))?;
        let url = Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or_else(|| bad_body(method, &"pdfUrl: not an http(s) URL"))?;
        let response = self.pdf_http.get(url).send().await.map_err(|e| {
            IssueError::Other(Box::new(NuonuoError::Transport {
                method: "pdfUrl",
                source: e.without_url(),
            }))
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(IssueError::NotFound(format!(
                "nuonuo pdfUrl of {key}: HTTP 404"
            )));
        }
        if !status.is_success() {
            return Err(IssueError::Other(Box::new(NuonuoError::Status {
                method: "pdfUrl",
                status: status.as_u16(),
            })));
        }
        let body = read_body(response, MAX_PDF_BYTES).await.map_err(|reason| {
            IssueError::Other(Box::new(NuonuoError::Body {
                method: "pdfUrl",
                reason,
            }))
        })?;
        PdfDocument::parse(body).map_err(|e| {
            IssueError::Other(Box::new(NuonuoError::Body {
                method: "pdfUrl",
                reason: e.to_string(),
            }))
        })
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        let key = request.key.as_str();
        let form = match self.query_red_form(key).await? {
            Some(form) => form,
            None => {
                let method = Method::SaveRed;
                let body = wire::RedConfirmRequest::new(
                    key,
                    &request.original,
                    &request.draft,
                    request.reason,
                    self.config.extension_number.as_deref(),
                    self.config.callback_url.as_deref(),
                )
                .map_err(|e| {
                    IssueError::Other(Box::new(NuonuoError::Request {
                        method: method.name(),
                        reason: e.to_string(),
                    }))
                })?;
                let envelope = self.call(method, encode(method, &body)?).await?;
                if method.succeeded(&envelope.code) {
                    return Ok(ReverseOutcome::Pending {
                        reference: Some(key.to_owned()),
                    });
                }
                if rejects_data(&envelope.code) || envelope.code.starts_with("E95") {
                    return Ok(ReverseOutcome::Rejected(IssueRejection {
                        reason: envelope.describe,
                        code: Some(envelope.code),
                        serial_is_dead: false,
                    }));
                }
                return Err(code_error(method, &envelope.code, &envelope.describe));
            }
        };
        if form.is_dead() {
            return Ok(ReverseOutcome::Rejected(IssueRejection {
                reason: format!("红字确认单 billStatus {}", form.bill_status),
                code: Some(form.bill_status),
                serial_is_dead: true,
            }));
        }
        let reference = form.bill_no.clone().or_else(|| Some(key.to_owned()));
        if !form.opened {
            return Ok(ReverseOutcome::Pending { reference });
        }
        let Some(queried) = self.query_invoice(key).await? else {
            return Ok(ReverseOutcome::Pending { reference });
        };
        match self.outcome(key, queried, false).await? {
            IssueOutcome::Issued(mut red) => {
                red.red_of = Some(RedLink {
                    original: request.original.number.clone(),
                    red_form_number: form.bill_no,
                    reason: red
                        .red_of
                        .as_ref()
                        .map_or(request.reason, |link| link.reason),
                });
                Ok(ReverseOutcome::RedIssued(red))
            }
            IssueOutcome::Pending(_) => Ok(ReverseOutcome::Pending { reference }),
            IssueOutcome::Rejected(rejection) => Ok(ReverseOutcome::Rejected(rejection)),
        }
    }
}

#[cfg(test)]
mod tests;
