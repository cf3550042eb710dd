//! HTTP limits: the settings a host serves the router with (timeouts, connections, declared
//! body size) and the answers it gives when a limit is hit, so that only `app::http` speaks in
//! status codes. The per-route body limits are the router's own ([`super::MAX_API_BYTES`],
//! [`super::MAX_PUSH_BYTES`]); a body declared larger than its route takes is refused at once.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Error;

/// How a listener protects itself; `[server]` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_read_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_read_timeout: Duration,
    /// A kept-alive connection with no request is closed after this.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// The largest body any route takes; a larger declared `Content-Length` is answered 413
    /// before the body is read.
    pub max_body_bytes: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_body_bytes: super::MAX_API_BYTES as u64,
        }
    }
}

/// The declared `Content-Length`, if any and readable.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The answer to a body declared over `limit` bytes: 413 in the JSON error envelope, and the
/// connection closed (its body is never read).
pub fn too_large(limit: u64) -> Response {
    close(Error::TooLarge { limit }.into_response())
}

/// The answer to a body that did not arrive within the body read timeout: 408, connection
/// closed.
pub fn body_timeout() -> Response {
    close(Error::Timeout.into_response())
}

fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Route middleware: a body declared larger than the route's limit is refused before it is
/// read (an oversize declaration with no body would otherwise wait for bytes never sent).
pub async fn declared_size(State(limit): State<usize>, request: Request, next: Next) -> Response {
    match declared_length(request.headers()) {
        Some(length) if length > limit as u64 => too_large(limit as u64),
        _ => next.run(request).await,
    }
}
