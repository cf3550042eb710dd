//! Who may read `/metrics`.

use axum::http::{HeaderMap, header};
use fapiao_domain::Secret;

/// Access to `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone (the default of [`super::AppState::new`], for hosts that guard it themselves).
    Open,
    /// The merchant API key (`Authorization: Bearer <key>` or `X-Api-Key`).
    ApiKey,
    /// A token of its own (`Authorization: Bearer <token>`), for a Prometheus scraper.
    Token(Secret),
}

/// The key a request presents: `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
pub(super) fn presented(headers: &HeaderMap) -> &[u8] {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .unwrap_or_default()
        .as_bytes()
}

/// Compares without an early exit, so the time taken says nothing about the key.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl MetricsAccess {
    /// Whether a request with `headers` may read the metrics.
    pub(super) fn allows(&self, headers: &HeaderMap, api_key: &Secret) -> bool {
        let expected = match self {
            MetricsAccess::Open => return true,
            MetricsAccess::ApiKey => api_key.expose().as_bytes(),
            MetricsAccess::Token(token) => token.expose().as_bytes(),
        };
        !expected.is_empty() && constant_time_eq(expected, presented(headers))
    }
}
