//! An emulator of Nuonuo's 诺税通saas open platform (reference §1), so the Nuonuo issuer runs end
//! to end offline.
//!
//! - `POST /accessToken` with the self-use and ISV grants and the 50-calls-per-30-days budget
//!   (`070306` beyond it).
//! - `POST /open/v1/services` verifies the call as the platform does: app key, `X-Nuonuo-Sign`
//!   over the exact body bytes (with the issuer's own signing code; `070601` on a mismatch),
//!   the access token (`070301`) and the seller's tax id (`070401`), then dispatches on the
//!   `method` header: `requestBillingNew` (`E9106` on a repeated order number),
//!   `queryInvoiceResult` (`E9500` while unknown, `20` for a configurable number of polls,
//!   then `2`), `reInvoice`, `saveInvoiceRedConfirm` and `queryInvoiceRedConfirm` (the bureau
//!   confirms and auto-issues the red invoice after a configurable number of polls).
//! - `GET /nuonuo/pdf/{serial}.pdf` serves a real 数电 PDF drawn from the request.
//! - Results are pushed to `callBackUrl` as Nuonuo's FORM callback (3 attempts).
//! - Fault injection: scripted one-shot errors, timeouts and applied-then-timeout per method.
//! - `/nuonuo/control/…`: the invoices (the witness of what was issued), token statistics,
//!   faults and poll settings.

mod http;
mod pdf;
pub mod state;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use http::router;
pub use state::{EmulatedInvoice, NuonuoState, RedForm};

/// The emulator's settings; every field has a default matching fapiao's Nuonuo test profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NuonuoEmulatorConfig {
    /// The app key.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// Seller tax ids with a 企业资质 here (the `userTax` header must be one of them).
    pub tax_ids: Vec<String>,
    /// The seller's name on the PDF.
    pub seller_name: String,
    /// Token calls allowed per 30 days.
    pub token_budget: u32,
    /// Token life in seconds.
    pub token_ttl_seconds: i64,
    /// Queries answered `E9500` right after an issue was accepted.
    pub unknown_polls: u32,
    /// Queries answered `20` (issuing) before `2`.
    pub pending_polls: u32,
    /// Red-form queries before the bureau confirms and issues the red invoice.
    pub red_polls: u32,
    /// When set, an accepted issue completes after this many milliseconds whatever the polls.
    pub complete_after_ms: Option<u64>,
    /// Largest distance of `timestamp` from the emulator's clock, seconds.
    pub clock_skew_seconds: i64,
    /// Pause between callback attempts (Nuonuo: one minute).
    pub callback_retry_ms: u64,
    /// The ISV merchant's `userId`, enabling the `refresh_token` grant.
    pub isv_user_id: Option<String>,
    /// The ISV authorisation's first refresh token.
    pub isv_refresh_token: Option<String>,
    /// Base URL of the PDF links; set by [`serve`] from the listener when absent.
    pub public_base_url: Option<String>,
}

impl Default for NuonuoEmulatorConfig {
    fn default() -> Self {
        Self {
            app_key: "nuonuoemulator01".to_owned(),
            app_secret: "nuonuo-emulator-secret".to_owned(),
            tax_ids: vec![
                "91110000000000000E".to_owned(),
                "339901999999142".to_owned(),
            ],
            seller_name: "沙箱餐饮有限公司".to_owned(),
            token_budget: 50,
            token_ttl_seconds: 86_400,
            unknown_polls: 0,
            pending_polls: 1,
            red_polls: 1,
            complete_after_ms: None,
            clock_skew_seconds: 600,
            callback_retry_ms: 60_000,
            isv_user_id: None,
            isv_refresh_token: None,
            public_base_url: None,
        }
    }
}

/// What a scripted fault does to the next call of its method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NuonuoFaultKind {
    /// Answer this code without acting.
    Error {
        /// `code`.
        code: String,
        /// `describe`.
        describe: String,
    },
    /// Answer HTTP 502 without acting.
    BadGateway,
    /// Wait, then answer `0200` without acting (the caller times out first).
    Timeout {
        /// How long.
        delay_ms: u64,
    },
    /// Act, then wait before answering (the caller times out: the call was applied).
    AppliedThenTimeout {
        /// How long.
        delay_ms: u64,
    },
}

/// A one-shot fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NuonuoFault {
    /// The method it hits (`nuonuo.OpeMplatform.requestBillingNew`, …), or any when absent.
    pub method: Option<String>,
    /// What it does.
    #[serde(flatten)]
    pub kind: NuonuoFaultKind,
}

struct Inner {
    config: Mutex<NuonuoEmulatorConfig>,
    state: Mutex<NuonuoState>,
    faults: Mutex<VecDeque<NuonuoFault>>,
    renderer: fapiao_issuer::InvoicePdfRenderer,
    http: reqwest::Client,
}

/// The emulator handle; cheap to clone.
#[derive(Clone)]
pub struct NuonuoEmulator(Arc<Inner>);

impl std::fmt::Debug for NuonuoEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NuonuoEmulator").finish_non_exhaustive()
    }
}

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum NuonuoEmulatorError {
    /// The PDF font.
    #[error("nuonuo emulator: pdf renderer: {0}")]
    Render(String),
    /// The HTTP client for callbacks.
    #[error("nuonuo emulator: http client: {0}")]
    Client(String),
    /// Serving.
    #[error("nuonuo emulator: {0}")]
    Io(#[from] std::io::Error),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state is plain data: still valid after a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl NuonuoEmulator {
    /// An emulator with `config`.
    ///
    /// # Errors
    /// When the PDF font or the HTTP client cannot be loaded.
    pub fn new(config: NuonuoEmulatorConfig) -> Result<NuonuoEmulator, NuonuoEmulatorError> {
        let renderer = fapiao_issuer::InvoicePdfRenderer::new()
            .map_err(|e| NuonuoEmulatorError::Render(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| NuonuoEmulatorError::Client(e.to_string()))?;
        Ok(NuonuoEmulator(Arc::new(Inner {
            config: Mutex::new(config),
            state: Mutex::new(NuonuoState::default()),
            faults: Mutex::new(VecDeque::new()),
            renderer,
            http,
        })))
    }

    /// The settings now.
    pub fn config(&self) -> NuonuoEmulatorConfig {
        lock(&self.0.config).clone()
    }

    /// Changes the settings.
    pub fn update_config(&self, change: impl FnOnce(&mut NuonuoEmulatorConfig)) {
        change(&mut lock(&self.0.config));
    }

    /// Runs `f` on the state.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut NuonuoState) -> R) -> R {
        f(&mut lock(&self.0.state))
    }

    /// Every invoice, blue and red, by order number.
    pub fn invoices(&self) -> Vec<EmulatedInvoice> {
        self.with_state(|s| s.invoices.values().cloned().collect())
    }

    /// Token calls ever made.
    pub fn token_calls(&self) -> usize {
        self.with_state(|s| s.token_calls.len())
    }

    /// Requests refused for their signature.
    pub fn signature_refusals(&self) -> u64 {
        self.with_state(|s| s.signature_refusals)
    }

    /// Queues a one-shot fault.
    pub fn push_fault(&self, fault: NuonuoFault) {
        lock(&self.0.faults).push_back(fault);
    }

    /// Takes the first queued fault for `method`.
    fn take_fault(&self, method: &str) -> Option<NuonuoFault> {
        let mut faults = lock(&self.0.faults);
        let index = faults
            .iter()
            .position(|f| f.method.as_deref().is_none_or(|m| m == method))?;
        faults.remove(index)
    }

    /// Delivers a callback in the background: up to 3 attempts, until one answers `0000`.
    fn deliver(&self, callback: state::Callback) {
        let emulator = self.clone();
        tokio::spawn(async move {
            let retry = Duration::from_millis(emulator.config().callback_retry_ms);
            let order_no = callback
                .form
                .iter()
                .find(|(k, _)| k == "orderno")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::time::sleep(retry).await;
                }
                let result = emulator
                    .0
                    .http
                    .post(&callback.url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded;charset=UTF-8",
                    )
                    .body(form_encode(&callback.form))
                    .send()
                    .await;
                let answered = match result {
                    Ok(response) => response
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned)),
                    Err(_) => None,
                };
                emulator.with_state(|s| {
                    s.callbacks.push((
                        callback.url.clone(),
                        order_no.clone(),
                        answered.clone().unwrap_or_else(|| "no answer".to_owned()),
                    ));
                });
                // An explicit answer, success or failure, ends the retries [G].
                if answered.is_some() {
                    return;
                }
            }
        });
    }
}

fn form_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
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

/// Serves a new emulator with `config` on `listener` until the task is dropped.
///
/// # Errors
/// When the emulator cannot start or the listener fails.
pub async fn serve(
    listener: TcpListener,
    mut config: NuonuoEmulatorConfig,
) -> Result<(), NuonuoEmulatorError> {
    if config.public_base_url.is_none() {
        config.public_base_url = Some(format!("http://{}", listener.local_addr()?));
    }
    let emulator = NuonuoEmulator::new(config)?;
    serve_emulator(listener, emulator).await
}

/// Serves `emulator` on `listener` (tests keep the handle to look inside).
///
/// # Errors
/// When the listener fails.
pub async fn serve_emulator(
    listener: TcpListener,
    emulator: NuonuoEmulator,
) -> Result<(), NuonuoEmulatorError> {
    if emulator.config().public_base_url.is_none() {
        let url = format!("http://{}", listener.local_addr()?);
        emulator.update_config(|c| c.public_base_url = Some(url));
    }
    tracing::info!(addr = %listener.local_addr()?, "nuonuo emulator listening");
    axum::serve(listener, router(emulator)).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
