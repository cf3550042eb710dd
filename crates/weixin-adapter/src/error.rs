//! The adapter's own error: richer than the domain's `WeixinError` (it knows HTTP statuses and
//! whether a request may have reached Weixin), translated to it at the port boundary.

use fapiao_domain::ports::RepositoryError;
use fapiao_domain::weixin::{ErrorClass, classify_errcode};

/// A failed Weixin call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Weixin answered a non-zero `errcode`.
    #[error("weixin errcode {errcode}: {errmsg}")]
    Api {
        /// `errcode`.
        errcode: i64,
        /// `errmsg`, verbatim (with its `hint:`/`rid:` suffix).
        errmsg: String,
    },
    /// Weixin answered a non-2xx HTTP status.
    #[error("weixin answered http status {status}")]
    Http {
        /// The status code.
        status: u16,
    },
    /// The request failed in transport. The URL (which carries the access token) is stripped.
    #[error("weixin could not be reached: {source}")]
    Transport {
        /// The reqwest error, without its URL.
        #[source]
        source: reqwest::Error,
        /// Whether the request may have reached Weixin (false for connect errors).
        maybe_sent: bool,
    },
    /// The answer is not the documented shape.
    #[error("weixin answered an unexpected body for {endpoint}: {reason}")]
    Decode {
        /// Endpoint name.
        endpoint: &'static str,
        /// What did not parse.
        reason: String,
    },
    /// No secret is configured for this appid.
    #[error("no weixin account is configured for appid {0}")]
    UnknownAccount(String),
    /// The request was refused before sending (invalid domain value).
    #[error("weixin request refused before sending: {0}")]
    Invalid(String),
    /// The shared token cache failed.
    #[error("token cache failed: {0}")]
    Cache(#[from] RepositoryError),
}

impl CallError {
    pub(crate) fn transport(error: reqwest::Error) -> Self {
        let maybe_sent = !error.is_connect() && !error.is_builder();
        CallError::Transport {
            source: error.without_url(),
            maybe_sent,
        }
    }

    /// The errcode, when Weixin answered one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            CallError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// The error's family, by errcode as the domain classifies it (a 5xx, 429 or a transport
    /// failure is transient).
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::Api { errcode, .. } => classify_errcode(*errcode),
            CallError::Http { status } if *status >= 500 || *status == 429 => ErrorClass::Transient,
            CallError::Transport { .. } | CallError::Cache(_) => ErrorClass::Transient,
            CallError::Http { .. }
            | CallError::Decode { .. }
            | CallError::UnknownAccount(_)
            | CallError::Invalid(_) => ErrorClass::Business,
        }
    }

    /// Whether the adapter may retry at once: only "system busy" (-1), 5xx and transport
    /// failures, and only when a repeat cannot apply the request twice. 45009 (daily quota) is
    /// transient for the workflow but pointless to retry within seconds.
    pub(crate) fn retry_now(&self, idempotent: bool) -> bool {
        match self {
            // -1 (system busy) may come after the request was applied: a call that is not
            // idempotent (insert, createcard) is left to the workflow, which knows how to ask.
            CallError::Api { errcode, .. } => *errcode == -1 && idempotent,
            CallError::Http { status } => *status >= 500 && idempotent,
            CallError::Transport { maybe_sent, .. } => idempotent || !maybe_sent,
            _ => false,
        }
    }
}
