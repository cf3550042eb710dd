//! `[console]`: the operator console at `/console`.

use serde::Deserialize;

use super::{Config, ConfigError, err};
use crate::http::console::ConsoleSettings;

/// `[console]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsoleConfig {
    /// Whether `/console` is served at all.
    pub enabled: bool,
    /// A session ends this long after sign-in, however busy.
    pub session_minutes: u32,
    /// A session ends after this long without a request.
    pub idle_minutes: u32,
    /// Whether the session cookie carries `Secure` (sent over HTTPS only; browsers also send
    /// it to `http://localhost` and `http://127.0.0.1`). Required in live mode.
    pub secure_cookie: bool,
}

impl Config {
    /// Checks `[console]`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn check_console(&self) -> Result<(), ConfigError> {
        let console = &self.console;
        if !(1..=10_080).contains(&console.session_minutes) {
            return Err(err(
                "console.session_minutes",
                "must be between 1 and 10080 (a week)",
            ));
        }
        if console.idle_minutes == 0 || console.idle_minutes > console.session_minutes {
            return Err(err(
                "console.idle_minutes",
                "must be at least 1 and at most console.session_minutes",
            ));
        }
        if !self.is_sandbox() && console.enabled && !console.secure_cookie {
            return Err(err(
                "console.secure_cookie",
                "must be true in live mode: the session cookie must never travel over plain HTTP",
            ));
        }
        Ok(())
    }

    /// The console's settings for the router; `None` when `console.enabled` is false.
    pub fn console_settings(&self) -> Option<ConsoleSettings> {
        let console = &self.console;
        console.enabled.then_some(ConsoleSettings {
            session_minutes: console.session_minutes,
            idle_minutes: console.idle_minutes,
            secure_cookie: console.secure_cookie,
        })
    }
}
