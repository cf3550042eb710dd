//! The HTTP gateway issuer: the `InvoiceIssuer` port mapped one to one onto a merchant's own
//! issuing service (an ERP, a Nuonuo or Baiwang integration it already runs), per the contract
//! in `docs/issuers/gateway.md`.
//!
//! - Four calls: `POST /v1/invoices`, `GET /v1/invoices/{key}`, `GET /v1/invoices/{key}/pdf` and
//!   `POST /v1/reversals`; the JSON bodies are mapped to and from domain types by hand in
//!   `gateway/wire.rs`, and errors in answers name the field.
//! - Every request is signed and every answer checked: HMAC-SHA256 with the shared secret over
//!   `v1`, the method (or the answer's status), the call's path below the base URL, the
//!   timestamp, the nonce and the SHA-256 of the body. An answer with a missing or wrong
//!   signature, or a timestamp more than 300 seconds from the clock, counts as not received.
//! - Errors say whether the request may have been applied. Refused before the request was
//!   written (connect, DNS, TLS) is [`IssueError::NotSent`]. Lost after it was written
//!   (timeout, reset), a `5xx`, an unsigned answer or a signed answer with a bad body is
//!   [`IssueError::OutcomeUnknown`] for `issue` and `reverse`, and [`IssueError::Other`] for the
//!   reads `query` and `fetch_pdf`, which have nothing to lose and are simply retried.
//! - Idempotency belongs to the service: a repeated key answers the first outcome. This client
//!   passes answers through, never retries a call itself and follows no redirects.

mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fapiao_domain::IssueKey;
use fapiao_domain::invoice::{InvoiceKind, IssuedInvoice, MAX_LINES};
use fapiao_domain::ports::{
    Clock, InvoiceIssuer, IssueError, IssueOutcome, IssueRequest, IssuerCapabilities,
    MAX_PDF_BYTES, PdfDocument, ReverseOutcome, ReverseRequest,
};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Header with the message's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "X-Fapiao-Timestamp";
/// Header with the message's nonce: 16–64 ASCII letters and digits, fresh per message.
pub const NONCE_HEADER: &str = "X-Fapiao-Nonce";
/// Header with the message's signature, `v1=` and 64 lower-case hex digits.
pub const SIGNATURE_HEADER: &str = "X-Fapiao-Signature";
/// Shortest shared secret accepted, in characters.
pub const MIN_SECRET_CHARS: usize = 32;
/// Largest distance between a message's timestamp and the receiver's clock.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;
/// Largest JSON answer read; outcomes are a few hundred bytes.
const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Where the gateway is and how to talk to it.
#[derive(Clone)]
pub struct GatewayConfig {
    // Invariant: https, or http to a loopback host; no credentials, query or fragment; no
    // trailing '/'.
    base_url: String,
    // Invariant: at least MIN_SECRET_CHARS characters.
    secret: SecretString,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("base_url", &self.base_url)
            .field("secret", &"[redacted]")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// A gateway setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum GatewayConfigError {
    /// The base URL.
    #[error("base_url: {0}")]
    BaseUrl(String),
    /// The shared secret (the message never quotes it).
    #[error("secret: {0}")]
    Secret(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("gateway http client could not be built")]
    Client(#[source] reqwest::Error),
}

impl GatewayConfig {
    /// A configuration with the default timeouts: 5 s to connect, 30 s for a whole call.
    ///
    /// `base_url` is the `{base}` of the contract, e.g. `https://erp.example.com/fapiao`; it
    /// must be `https`, or plain `http` to `127.0.0.1`, `[::1]` or `localhost`.
    ///
    /// # Errors
    /// [`GatewayConfigError::BaseUrl`] or [`GatewayConfigError::Secret`] naming the rule.
    pub fn new(
        base_url: &str,
        secret: impl Into<SecretString>,
    ) -> Result<GatewayConfig, GatewayConfigError> {
        let bad_url = |rule: &str| GatewayConfigError::BaseUrl(rule.to_owned());
        let url = Url::parse(base_url)
            .map_err(|e| GatewayConfigError::BaseUrl(format!("not an absolute URL ({e})")))?;
        // Checked first so that no later message can quote a password.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad_url(
                "must not carry credentials; the shared secret authenticates fapiao",
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")) => {}
            "http" => {
                return Err(bad_url(
                    "must be https (plain http only to 127.0.0.1, [::1] or localhost)",
                ));
            }
            other => {
                return Err(GatewayConfigError::BaseUrl(format!(
                    "scheme {other:?} is not https"
                )));
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad_url("must not have a query or a fragment"));
        }
        let secret = secret.into();
        let chars = secret.expose_secret().chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(GatewayConfigError::Secret(format!(
                "must be at least {MIN_SECRET_CHARS} characters, got {chars}"
            )));
        }
        Ok(GatewayConfig {
            base_url: url.as_str().trim_end_matches('/').to_owned(),
            secret,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        })
    }

    /// Sets the TCP and TLS connect timeout; a call that times out connecting was not sent.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> GatewayConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of a whole call, connecting and reading the answer included; a call
    /// that times out after sending has an unknown outcome.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> GatewayConfig {
        self.request_timeout = timeout;
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The whole-call timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// What went wrong in a call, carried by [`IssueError::Other`] (and spelled out in
/// [`IssueError::OutcomeUnknown`]).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The connection failed or timed out after the request may have been written.
    #[error("gateway {call}: the call failed after sending")]
    Transport {
        /// `issue`, `query`, `fetch_pdf` or `reverse`.
        call: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP status the call does not expect.
    #[error("gateway {call}: HTTP {status}{detail}")]
    Status {
        /// The call.
        call: &'static str,
        /// The status code.
        status: u16,
        /// `: <error>: <message>` from the error body, or empty.
        detail: String,
    },
    /// An answer without a valid signature, treated as not received.
    #[error("gateway {call}: HTTP {status} answer ignored: {reason}")]
    Signature {
        /// The call.
        call: &'static str,
        /// The status code of the ignored answer.
        status: u16,
        /// What failed.
        reason: String,
    },
    /// A signed answer whose body breaks the contract.
    #[error("gateway {call}: answer body: {reason}")]
    Body {
        /// The call.
        call: &'static str,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A request the contract cannot express.
    #[error("gateway {call}: request: {reason}")]
    Request {
        /// The call.
        call: &'static str,
        /// What cannot be sent, naming the field.
        reason: String,
    },
}

/// The four calls of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Issue,
    Query,
    FetchPdf,
    Reverse,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Issue => "issue",
            Call::Query => "query",
            Call::FetchPdf => "fetch_pdf",
            Call::Reverse => "reverse",
        }
    }

    /// Whether the call changes anything at the service, so that a lost answer leaves the
    /// outcome unknown.
    fn may_apply(self) -> bool {
        matches!(self, Call::Issue | Call::Reverse)
    }

    fn body_limit(self) -> usize {
        match self {
            Call::FetchPdf => MAX_PDF_BYTES,
            Call::Issue | Call::Query | Call::Reverse => MAX_JSON_BYTES,
        }
    }
}

/// `error` and its sources, joined by `: `.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The port error for a call whose answer is lost or unusable after the request was written.
fn after_sending(call: Call, error: GatewayError) -> IssueError {
    if call.may_apply() {
        IssueError::OutcomeUnknown(chain(&error))
    } else {
        IssueError::Other(Box::new(error))
    }
}

/// A transport error: certainly not sent when it happened while connecting (DNS, TCP, TLS) or
/// building the request; otherwise the request may have been written.
fn transport_error(call: Call, error: reqwest::Error) -> IssueError {
    let error = error.without_url();
    if error.is_connect() || error.is_builder() {
        IssueError::NotSent(format!("gateway {}: {}", call.name(), chain(&error)))
    } else {
        after_sending(
            call,
            GatewayError::Transport {
                call: call.name(),
                source: error,
            },
        )
    }
}

/// A signed answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn status_error(&self, call: Call) -> GatewayError {
        GatewayError::Status {
            call: call.name(),
            status: self.status.as_u16(),
            detail: wire::ErrorBody::parse(&self.body).detail(),
        }
    }
}

/// The HTTP gateway issuer, an [`InvoiceIssuer`]. Cheap to share; calls share one connection
/// pool.
pub struct HttpGatewayIssuer {
    http: reqwest::Client,
    config: GatewayConfig,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HttpGatewayIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpGatewayIssuer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpGatewayIssuer {
    /// A gateway issuer; `clock` stamps requests and judges the answers' timestamps.
    ///
    /// # Errors
    /// [`GatewayConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(
        config: GatewayConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<HttpGatewayIssuer, GatewayConfigError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            // A redirect would change the signed path and could repeat a POST elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fapiao-issuer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(GatewayConfigError::Client)?;
        Ok(HttpGatewayIssuer {
            http,
            config,
            clock,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    fn secret(&self) -> &[u8] {
        self.config.secret.expose_secret().as_bytes()
    }

    /// Signs and sends one call and returns its answer once the signature checks out.
    ///
    /// `5xx` (proxies answer them too) and `401`/`403` (the service may be refusing the very
    /// secret it would sign with) are judged without a signature; every other answer must be
    /// signed.
    async fn send(
        &self,
        call: Call,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Answer, IssueError> {
        let timestamp = self.clock.now().unix_seconds().to_string();
        let nonce = new_nonce().map_err(|e| {
            IssueError::NotSent(format!("gateway {}: no random nonce ({e})", call.name()))
        })?;
        let message = canonical(method.as_str(), path, &timestamp, &nonce, &body);
        let signature = hex::encode(hmac_sha256(self.secret(), &message));
        let accept = match call {
            Call::FetchPdf => "application/pdf",
            Call::Issue | Call::Query | Call::Reverse => "application/json",
        };
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.config.base_url))
            .header(TIMESTAMP_HEADER, timestamp)
            .header(NONCE_HEADER, nonce)
            .header(SIGNATURE_HEADER, format!("v1={signature}"))
            .header(ACCEPT, accept);
        if method == Method::POST {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| transport_error(call, e))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(after_sending(
                call,
                GatewayError::Status {
                    call: call.name(),
                    status: status.as_u16(),
                    detail: String::new(),
                },
            ));
        }
        let headers = response.headers().clone();
        let body = read_body(response, call.body_limit()).await;
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let detail = body
                .map(|body| wire::ErrorBody::parse(&body).detail())
                .unwrap_or_default();
            return Err(IssueError::Configuration(format!(
                "gateway {}: HTTP {}{detail} (check the shared secret and the service's list of callers)",
                call.name(),
                status.as_u16()
            )));
        }
        let body = body.map_err(|e| after_sending(call, e.into_gateway_error(call)))?;
        self.verify(status, path, &headers, &body)
            .map_err(|reason| {
                after_sending(
                    call,
                    GatewayError::Signature {
                        call: call.name(),
                        status: status.as_u16(),
                        reason,
                    },
                )
            })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Checks an answer's timestamp, nonce and signature.
    fn verify(
        &self,
        status: StatusCode,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let header = |name: &str| -> Result<&str, String> {
            headers
                .get(name)
                .ok_or_else(|| format!("no {name} header"))?
                .to_str()
                .map_err(|_| format!("{name} is not ASCII"))
        };
        let timestamp = header(TIMESTAMP_HEADER)?;
        let seconds = Some(timestamp)
            .filter(|t| (1..=12).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| format!("{TIMESTAMP_HEADER} {timestamp:?} is not Unix seconds"))?;
        let skew = self.clock.now().unix_seconds().abs_diff(seconds);
        if skew > MAX_CLOCK_SKEW_SECONDS {
            return Err(format!(
                "{TIMESTAMP_HEADER} is {skew} s away from the local clock (at most {MAX_CLOCK_SKEW_SECONDS})"
            ));
        }
        let nonce = header(NONCE_HEADER)?;
        if !valid_nonce(nonce) {
            return Err(format!(
                "{NONCE_HEADER} must be 16 to 64 ASCII letters and digits"
            ));
        }
        let given = header(SIGNATURE_HEADER)?
            .strip_prefix("v1=")
            .and_then(unhex32)
            .ok_or_else(|| format!("{SIGNATURE_HEADER} is not v1= and 64 lower-case hex digits"))?;
        let message = canonical(status.as_str(), path, timestamp, nonce, body);
        let expected = hmac_sha256(self.secret(), &message);
        if bool::from(expected.ct_eq(&given)) {
            Ok(())
        } else {
            Err(format!("{SIGNATURE_HEADER} does not match"))
        }
    }

    /// The port error for a signed answer that is not a success: `428` asks for the bureau
    /// session, `404` of a PDF is [`IssueError::NotFound`], any other `4xx` (the call itself
    /// was wrong, e.g. `409` for a key used by another kind of request) is
    /// [`IssueError::Other`]; anything else (`1xx`, `3xx`) says nothing about the request.
    fn refusal(call: Call, answer: &Answer) -> IssueError {
        match answer.status {
            StatusCode::PRECONDITION_REQUIRED => {
                let error = wire::ErrorBody::parse(&answer.body);
                IssueError::SessionRequired(format!(
                    "gateway {}: {}",
                    call.name(),
                    error
                        .message
                        .unwrap_or_else(|| "the tax bureau session must be renewed".to_owned())
                ))
            }
            StatusCode::NOT_FOUND if call == Call::FetchPdf => {
                IssueError::NotFound(answer.status_error(call).to_string())
            }
            status if status.is_client_error() => {
                IssueError::Other(Box::new(answer.status_error(call)))
            }
            _ => after_sending(call, answer.status_error(call)),
        }
    }
}

/// Reads at most `limit` bytes of an answer.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let too_large = || BodyError::TooLarge(limit);
    if response
        .content_length()
        .is_some_and(|length| usize::try_from(length).map_or(true, |length| length > limit))
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge(usize),
}

impl BodyError {
    fn into_gateway_error(self, call: Call) -> GatewayError {
        match self {
            BodyError::Transport(source) => GatewayError::Transport {
                call: call.name(),
                source: source.without_url(),
            },
            BodyError::TooLarge(limit) => GatewayError::Body {
                call: call.name(),
                reason: format!("larger than {limit} bytes"),
            },
        }
    }
}

#[async_trait]
impl InvoiceIssuer for HttpGatewayIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        IssuerCapabilities {
            name: "gateway".to_owned(),
            kinds: vec![InvoiceKind::DigitalOrdinary, InvoiceKind::DigitalSpecial],
            // The service may answer `pending`; the workflow then polls `query`.
            synchronous: false,
            full_reversal: true,
            partial_reversal: false,
            max_lines: MAX_LINES,
        }
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let call = Call::Issue;
        let body = wire::IssueInvoiceRequest::new(request);
        let body = encode(call, &body)?;
        let answer = self.send(call, Method::POST, "/v1/invoices", body).await?;
        if !answer.status.is_success() {
            return Err(Self::refusal(call, &answer));
        }
        wire::issue_outcome(&answer.body).map_err(|e| bad_body(call, &e))
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        let call = Call::Query;
        let path = format!("/v1/invoices/{}", key.as_str());
        let answer = self.send(call, Method::GET, &path, Vec::new()).await?;
        // Signed, so it is the service saying it never saw the key, not a proxy's 404.
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(Self::refusal(call, &answer));
        }
        wire::issue_outcome(&answer.body)
            .map(Some)
            .map_err(|e| bad_body(call, &e))
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        _invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        let call = Call::FetchPdf;
        let path = format!("/v1/invoices/{}/pdf", key.as_str());
        let answer = self.send(call, Method::GET, &path, Vec::new()).await?;
        if !answer.status.is_success() {
            return Err(Self::refusal(call, &answer));
        }
        let content_type = answer
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/pdf") {
            return Err(bad_body(
                call,
                &format!("Content-Type is {content_type:?}, expected application/pdf"),
            ));
        }
        PdfDocument::parse(answer.body).map_err(|e| bad_body(call, &e))
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        let call = Call::Reverse;
        let body = wire::ReversalRequest::new(request).map_err(|e| {
            IssueError::Other(Box::new(GatewayError::Request {
                call: call.name(),
                reason: e.to_string(),
            }))
        })?;
        let body = encode(call, &body)?;
        let answer = self.send(call, Method::POST, "/v1/reversals", body).await?;
        if !answer.status.is_success() {
            return Err(Self::refusal(call, &answer));
        }
        wire::reverse_outcome(&answer.body).map_err(|e| bad_body(call, &e))
    }
}

fn encode(call: Call, body: &impl serde::Serialize) -> Result<Vec<u8>, IssueError> {
    serde_json::to_vec(body).map_err(|e| {
        IssueError::Other(Box::new(GatewayError::Request {
            call: call.name(),
            reason: e.to_string(),
        }))
    })
}

fn bad_body(call: Call, reason: &dyn fmt::Display) -> IssueError {
    after_sending(
        call,
        GatewayError::Body {
            call: call.name(),
            reason: reason.to_string(),
        },
    )
}

/// The signed text: `v1`, the method or status, the path, the timestamp, the nonce and the
/// hex SHA-256 of the body, joined by `\n`.
fn canonical(
    method_or_status: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("v1\n{method_or_status}\n{path}\n{timestamp}\n{nonce}\n{body_hash}")
}

fn hmac_sha256(secret: &[u8], message: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A fresh nonce: 16 random bytes as 32 hex digits.
fn new_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// 64 lower-case hex digits as 32 bytes.
fn unhex32(text: &str) -> Option<[u8; 32]> {
    // Lower case only, as the contract writes them (the crate would take upper case too).
    if text.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut bytes = [0_u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests;
