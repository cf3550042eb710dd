//! `[server]` access settings and `[log]`.

use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError, err};
use crate::http::MetricsAccess;
use crate::http::limits::HttpLimits;

/// `server.metrics_auth`: who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsAuth {
    /// Open in the sandbox profile, the API key in live mode.
    Auto,
    /// Anyone.
    Open,
    /// `Authorization: Bearer <server.api_key>`.
    ApiKey,
    /// `Authorization: Bearer <server.metrics_token>`.
    Token,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines; ANSI colour only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Filter (`RUST_LOG` syntax); `RUST_LOG` wins when set.
    pub level: String,
}

impl Config {
    /// Checks `[server]` beyond what parsing checks.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn check_server(&self) -> Result<(), ConfigError> {
        if self.server.metrics_auth == MetricsAuth::Token
            && self.server.metrics_token.expose().len() < 16
        {
            return Err(err(
                "server.metrics_token",
                "must be at least 16 characters when server.metrics_auth = \"token\"",
            ));
        }
        let server = &self.server;
        for (key, value, min, max) in [
            (
                "server.header_read_timeout_ms",
                server.header_read_timeout_ms,
                100,
                600_000,
            ),
            (
                "server.body_read_timeout_ms",
                server.body_read_timeout_ms,
                100,
                3_600_000,
            ),
            (
                "server.idle_timeout_ms",
                server.idle_timeout_ms,
                100,
                3_600_000,
            ),
            (
                "server.max_body_bytes",
                server.max_body_bytes,
                1024,
                1 << 30,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(err(
                    key,
                    format!("must be between {min} and {max}, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// The HTTP limits of `[server]`; `max_connections` 0 stays 0 (the host derives it from
    /// the descriptor limit).
    pub fn http_limits(&self) -> HttpLimits {
        let server = &self.server;
        HttpLimits {
            header_read_timeout: Duration::from_millis(server.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(server.body_read_timeout_ms),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms),
            max_connections: server.max_connections,
            max_body_bytes: server.max_body_bytes,
        }
    }

    /// Who may read `/metrics`, resolved for the mode.
    pub fn metrics_access(&self) -> MetricsAccess {
        match self.server.metrics_auth {
            MetricsAuth::Open => MetricsAccess::Open,
            MetricsAuth::Auto if self.is_sandbox() => MetricsAccess::Open,
            MetricsAuth::Auto | MetricsAuth::ApiKey => MetricsAccess::ApiKey,
            MetricsAuth::Token => MetricsAccess::Token(self.server.metrics_token.clone()),
        }
    }
}
