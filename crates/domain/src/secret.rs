//! A string that never prints.

use std::fmt;

/// A secret (app secret, access token, AES key, API key): `Debug` and `Display` print a
/// placeholder, so a secret cannot leak through a log line or a panic message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; call only where it is sent or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let secret = Secret::new("s3cr3t-app-secret");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
        assert_eq!(secret.expose(), "s3cr3t-app-secret");
    }

    #[test]
    fn deserializes_from_a_string_and_still_never_prints() {
        let secret: Secret =
            serde_json::from_str("\"from-config\"").unwrap_or_else(|_| Secret::new(""));
        assert_eq!(secret.expose(), "from-config");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }
}
