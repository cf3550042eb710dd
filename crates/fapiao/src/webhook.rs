//! The webhook transport: posts signed events to the merchant's endpoints with reqwest.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use fapiao_domain::ports::{WebhookRequest, WebhookTransport};

/// Posts webhook requests over one pooled client; redirects are not followed (an endpoint
/// that moved must be configured anew) and the answer's body is not read.
#[derive(Debug, Clone)]
pub struct ReqwestWebhookTransport {
    client: reqwest::Client,
}

impl ReqwestWebhookTransport {
    /// A transport whose requests time out after `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS provider).
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fapiao-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Self { client })
    }
}

#[async_trait]
impl WebhookTransport for ReqwestWebhookTransport {
    async fn post(&self, request: &WebhookRequest) -> Result<u16, String> {
        let mut builder = self.client.post(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(request.body.clone())
            .send()
            .await
            .map(|answer| answer.status().as_u16())
            .map_err(|error| {
                let kind = if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "could not connect"
                } else {
                    "failed"
                };
                // Without the URL: it may carry credentials in its query.
                format!("{kind}: {}", error.without_url())
            })
    }
}
