//! The HTTP surface: Weixin's endpoints at their real paths, the JSON control API under
//! `/sandbox/control`, and the buyer's pages under `/sandbox`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::SandboxConfig;
use crate::error::{ControlError, SandboxError};
use crate::sandbox::Sandbox;

mod api;
mod control;
mod pages;

/// The whole sandbox as a router (a tower service): mount it, or serve it with [`serve`].
pub fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(control::routes())
        .merge(pages::routes())
        .fallback(not_found)
        // Bodies are read with explicit limits per endpoint.
        .layer(DefaultBodyLimit::disable())
        .with_state(sandbox)
}

/// Serves a sandbox built from `config` on `listener` until the task is dropped. Without a
/// configured `public_base_url`, URLs handed to clients use the listener's address.
///
/// # Errors
/// [`SandboxError`] for an invalid configuration or a failing listener.
pub async fn serve(listener: TcpListener, mut config: SandboxConfig) -> Result<(), SandboxError> {
    if config.public_base_url.is_none() {
        config.public_base_url = Some(format!("http://{}", listener.local_addr()?));
    }
    let sandbox = Sandbox::new(config)?;
    tracing::info!(url = sandbox.public_base_url(), "weixin sandbox listening");
    axum::serve(listener, router(sandbox)).await?;
    Ok(())
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "errcode": -1,
            "errmsg": format!("sandbox: no endpoint at {}", uri.path()),
        })),
    )
        .into_response()
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}
