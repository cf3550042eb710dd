//! `[console]`: the operator console at `/console`.

use fapiao_domain::Secret;
use serde::Deserialize;

use super::{Config, ConfigError, err};
use crate::http::console::{ConsoleSettings, Operator};

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
    /// Operators who sign in with their own name and password (besides the API key).
    pub operators: Vec<OperatorConfig>,
}

/// `[[console.operators]]`: one operator account.
#[derive(Debug, Clone, Deserialize)]
pub struct OperatorConfig {
    /// The name typed at sign-in and written in the log of every action.
    pub name: String,
    /// The password's argon2 hash in PHC form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub password_hash: Secret,
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
        let mut names = std::collections::BTreeSet::new();
        for (i, operator) in console.operators.iter().enumerate() {
            let name = &operator.name;
            let valid = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid || name == API_KEY_OPERATOR {
                return Err(err(
                    format!("console.operators[{i}].name"),
                    format!(
                        "1 to 64 ASCII letters, digits, '_', '-' or '.', not {API_KEY_OPERATOR:?}"
                    ),
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(err(
                    format!("console.operators[{i}].name"),
                    format!("operator {name:?} is listed twice"),
                ));
            }
            if let Err(rule) = Operator::check_hash(operator.password_hash.expose()) {
                return Err(err(format!("console.operators[{i}].password_hash"), rule));
            }
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
            operators: console
                .operators
                .iter()
                .map(|o| Operator {
                    name: o.name.clone(),
                    password_hash: o.password_hash.clone(),
                })
                .collect(),
        })
    }
}

/// The operator name of a sign-in with the merchant API key.
const API_KEY_OPERATOR: &str = "api_key";

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(toml: &str) -> Option<String> {
        let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
        config.check_console().err().map(|e| e.key)
    }

    #[test]
    fn the_console_is_on_with_a_secure_cookie_by_default() {
        let config = Config::from_toml("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.console_settings(),
            Some(ConsoleSettings {
                session_minutes: 480,
                idle_minutes: 60,
                secure_cookie: true,
                operators: Vec::new(),
            })
        );
        let off = Config::from_toml("[console]\nenabled = false").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(off.console_settings(), None);
    }

    #[test]
    fn bad_durations_and_a_clear_cookie_in_live_mode_are_refused() {
        assert_eq!(rule(""), None);
        assert_eq!(
            rule("[console]\nsession_minutes = 0").as_deref(),
            Some("console.session_minutes")
        );
        assert_eq!(
            rule("[console]\nsession_minutes = 30\nidle_minutes = 60").as_deref(),
            Some("console.idle_minutes")
        );
        assert_eq!(rule("[console]\nsecure_cookie = false"), None, "sandbox");
        assert_eq!(
            rule("[weixin]\nmode = \"live\"\n[console]\nsecure_cookie = false").as_deref(),
            Some("console.secure_cookie")
        );
        assert_eq!(
            rule("[[console.operators]]\nname = \"alice\"\npassword_hash = \"hunter2\"").as_deref(),
            Some("console.operators[0].password_hash")
        );
        assert_eq!(
            rule("[[console.operators]]\nname = \"a b\"\npassword_hash = \"x\"").as_deref(),
            Some("console.operators[0].name")
        );
        assert_eq!(
            rule("[weixin]\nmode = \"live\"\n[console]\nenabled = false\nsecure_cookie = false"),
            None,
            "no console, no cookie"
        );
    }
}
