//! `[[webhooks]]` (the merchant's endpoints) and `[webhook_delivery]` (how events reach them).

use std::time::Duration;

use axum::http::Uri;
use fapiao_domain::Secret;
use fapiao_domain::webhook::EventSelection;
use serde::Deserialize;

use super::{Config, ConfigError, err};
use crate::service::{WebhookEndpoint, WebhookSettings};

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique name; the delivery log keys on it.
    pub name: String,
    /// Where events are posted (https; plain http only to a loopback address in live mode).
    pub url: String,
    /// The signing secret (at least 16 characters).
    pub secret: Secret,
    /// Event types (`order.created`, `invoice.issued`, …) or `"*"`.
    #[serde(default = "every_event")]
    pub events: Vec<String>,
}

fn every_event() -> Vec<String> {
    vec!["*".to_owned()]
}

/// `[webhook_delivery]`.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookDeliveryConfig {
    /// Hours a delivery is retried before it is given up (at least 24).
    pub retry_hours: u64,
    /// The first retry's delay in milliseconds; it doubles per attempt.
    pub initial_backoff_ms: u64,
    /// The longest delay between attempts, in seconds.
    pub max_backoff_seconds: u64,
    /// Seconds an endpoint has to answer.
    pub timeout_seconds: u64,
    /// Deliveries in flight at once.
    pub concurrency: u32,
    /// Milliseconds between rounds when nothing is due.
    pub poll_interval_ms: u64,
    /// Hours ended deliveries are kept in the log before they are purged (0 keeps them).
    pub retention_hours: u64,
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Config {
    /// The webhook delivery settings, `None` when no endpoint is configured; `worker_id` names
    /// this instance in leases.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the key and the rule.
    pub fn webhook_settings(
        &self,
        worker_id: &str,
    ) -> Result<Option<WebhookSettings>, ConfigError> {
        let delivery = &self.webhook_delivery;
        if delivery.retry_hours < 24 {
            return Err(err(
                "webhook_delivery.retry_hours",
                "must be at least 24: a merchant's endpoint may be down for a day",
            ));
        }
        if delivery.initial_backoff_ms == 0 || delivery.max_backoff_seconds == 0 {
            return Err(err(
                "webhook_delivery.initial_backoff_ms",
                "backoffs must be positive",
            ));
        }
        if delivery.timeout_seconds == 0 || delivery.concurrency == 0 {
            return Err(err(
                "webhook_delivery.concurrency",
                "timeout_seconds and concurrency must be positive",
            ));
        }
        let mut endpoints: Vec<WebhookEndpoint> = Vec::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = |field: &str| format!("webhooks[{i}].{field}");
            let name = hook.name.trim();
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(err(
                    key("name"),
                    "must be 1-64 characters of letters, digits, '-', '_' or '.'",
                ));
            }
            if endpoints.iter().any(|e| e.name == name) {
                return Err(err(key("name"), format!("{name:?} is used twice")));
            }
            let uri: Uri = hook
                .url
                .parse()
                .map_err(|_| err(key("url"), "is not a URL"))?;
            let host = uri.host().unwrap_or_default();
            match uri.scheme_str() {
                Some("https") if !host.is_empty() => {}
                Some("http") if !host.is_empty() && (self.is_sandbox() || is_loopback(host)) => {}
                Some("http") if !host.is_empty() => {
                    return Err(err(
                        key("url"),
                        "must be https in live mode (plain http only to a loopback address)",
                    ));
                }
                _ => return Err(err(key("url"), "must be an absolute https:// URL")),
            }
            if hook.secret.expose().chars().count() < 16 {
                return Err(err(key("secret"), "must be at least 16 characters"));
            }
            let events =
                EventSelection::parse(&hook.events).map_err(|rule| err(key("events"), rule))?;
            endpoints.push(WebhookEndpoint {
                name: name.to_owned(),
                url: hook.url.clone(),
                secret: hook.secret.clone(),
                events,
            });
        }
        if endpoints.is_empty() {
            return Ok(None);
        }
        Ok(Some(WebhookSettings {
            endpoints,
            retry_for: Duration::from_secs(delivery.retry_hours.saturating_mul(3600)),
            initial_backoff: Duration::from_millis(delivery.initial_backoff_ms),
            max_backoff: Duration::from_secs(delivery.max_backoff_seconds),
            concurrency: delivery.concurrency,
            poll: Duration::from_millis(delivery.poll_interval_ms.max(10)),
            // Long enough for the post and the record; a crashed worker's deliveries go out again after it.
            lease: Duration::from_secs(
                delivery
                    .timeout_seconds
                    .saturating_mul(2)
                    .saturating_add(5)
                    .max(10),
            ),
            worker_id: worker_id.to_owned(),
            retention: (delivery.retention_hours > 0)
                .then(|| Duration::from_secs(delivery.retention_hours.saturating_mul(3600))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Option<WebhookSettings>, ConfigError> {
        Config::from_toml(toml)?.webhook_settings("w1")
    }

    const GOOD: &str = "[[webhooks]]\nname = \"erp\"\nurl = \"https://erp.example.com/hook\"\nsecret = \"0123456789abcdef\"\n";

    #[test]
    fn no_endpoint_means_no_delivery_and_one_is_read_whole() {
        assert!(load("").unwrap().is_none());
        let settings = load(GOOD).unwrap().unwrap();
        assert_eq!(settings.endpoints.len(), 1);
        assert_eq!(settings.endpoints[0].name, "erp");
        assert_eq!(settings.endpoints[0].events, EventSelection::All);
        assert_eq!(settings.retry_for, Duration::from_secs(72 * 3600));
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_key() {
        let cases = [
            (
                GOOD.replace("https://erp.example.com/hook", "ftp://x/y"),
                "webhooks[0].url",
            ),
            (
                GOOD.replace("0123456789abcdef", "short"),
                "webhooks[0].secret",
            ),
            (GOOD.replace("\"erp\"", "\"e r p\""), "webhooks[0].name"),
            (
                format!("{GOOD}events = [\"invoice.isued\"]\n"),
                "webhooks[0].events",
            ),
            (
                format!("{GOOD}{}", GOOD.replace("/hook\"", "/other\"")),
                "webhooks[1].name",
            ),
            (
                format!("{GOOD}[webhook_delivery]\nretry_hours = 12\n"),
                "webhook_delivery.retry_hours",
            ),
        ];
        for (toml, key) in cases {
            let error = load(&toml).unwrap_err();
            assert_eq!(error.key, key, "{toml}: {error}");
        }
        // An unknown field of an entry is refused by name too.
        let error = Config::from_toml(&format!("{GOOD}urll = \"x\"\n")).unwrap_err();
        assert!(error.to_string().contains("urll"), "{error}");
    }

    #[test]
    fn live_mode_wants_https_except_to_loopback() {
        let live = "[weixin]\nmode = \"live\"\n";
        let plain = GOOD.replace("https://erp.example.com", "http://erp.example.com");
        let config = Config::from_toml(&format!("{live}{plain}")).unwrap();
        assert_eq!(
            config.webhook_settings("w1").unwrap_err().key,
            "webhooks[0].url"
        );
        let local = GOOD.replace("https://erp.example.com", "http://127.0.0.1:9000");
        let config = Config::from_toml(&format!("{live}{local}")).unwrap();
        assert!(config.webhook_settings("w1").unwrap().is_some());
    }
}
