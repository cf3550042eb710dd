//! The Nuonuo issuer's settings: endpoints, credentials, app type, timeouts and the token
//! policy, each checked at construction with the setting named in the error.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::SERVICES_PATH;
use super::token::TokenPolicy;

/// Self-use or ISV app (§1.3).
#[derive(Clone)]
pub enum AppType {
    /// 自用型应用: `client_credentials` with the app key and secret.
    SelfUse,
    /// 第三方应用: `refresh_token` with the merchant's `userId`; the first refresh token comes
    /// from the authorisation, later ones from each refresh (stored in the token cache).
    Isv {
        /// The merchant's `userId` (the refresh's `client_id`).
        user_id: String,
        /// The refresh token of the authorisation.
        refresh_token: SecretString,
    },
}

impl fmt::Debug for AppType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppType::SelfUse => f.write_str("SelfUse"),
            AppType::Isv { user_id, .. } => f
                .debug_struct("Isv")
                .field("user_id", user_id)
                .field("refresh_token", &"[redacted]")
                .finish(),
        }
    }
}

/// A Nuonuo setting was refused; each variant is one setting.
#[derive(Debug, thiserror::Error)]
pub enum NuonuoConfigError {
    /// The business endpoint.
    #[error("services_url: {0}")]
    ServicesUrl(String),
    /// The token endpoint.
    #[error("token_url: {0}")]
    TokenUrl(String),
    /// The app key.
    #[error("app_key: {0}")]
    AppKey(String),
    /// The app secret (never quoted).
    #[error("app_secret: {0}")]
    AppSecret(String),
    /// The seller's tax id.
    #[error("seller_tax_id: {0}")]
    SellerTaxId(String),
    /// The ISV settings.
    #[error("isv: {0}")]
    Isv(String),
    /// The HTTP client could not be built.
    #[error("nuonuo http client could not be built")]
    Client(#[source] reqwest::Error),
}

/// Where Nuonuo is and who we are there.
#[derive(Clone)]
pub struct NuonuoConfig {
    // Invariant: https (or http to a loopback host), path exactly SERVICES_PATH.
    pub(super) services_url: String,
    // Invariant: https (or http to a loopback host).
    pub(super) token_url: String,
    // Invariant: 1–64 ASCII letters and digits.
    pub(super) app_key: String,
    // Invariant: not empty.
    pub(super) app_secret: SecretString,
    // Invariant: 15–20 ASCII letters and digits.
    pub(super) seller_tax_id: String,
    pub(super) app_type: AppType,
    pub(super) extension_number: Option<String>,
    pub(super) callback_url: Option<String>,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) token_policy: TokenPolicy,
}

impl fmt::Debug for NuonuoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NuonuoConfig")
            .field("services_url", &self.services_url)
            .field("token_url", &self.token_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &"[redacted]")
            .field("seller_tax_id", &self.seller_tax_id)
            .field("app_type", &self.app_type)
            .field("extension_number", &self.extension_number)
            .field("callback_url", &self.callback_url.as_ref().map(|_| "[set]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("token_policy", &self.token_policy)
            .finish()
    }
}

fn check_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    match parsed.scheme() {
        "https" => {}
        "http" if matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")) => {}
        _ => {
            return Err(
                "must be https (plain http only to 127.0.0.1, [::1] or localhost)".to_owned(),
            );
        }
    }
    if parsed.fragment().is_some() || parsed.query().is_some() {
        return Err("must not have a query or a fragment".to_owned());
    }
    Ok(parsed)
}

impl NuonuoConfig {
    /// A configuration with the default timeouts (5 s to connect, 20 s per call) and token
    /// policy. `services_url` is [`PRODUCTION_SERVICES_URL`], [`SANDBOX_SERVICES_URL`] or an
    /// emulator's `http://127.0.0.1:…/open/v1/services`.
    ///
    /// # Errors
    /// The [`NuonuoConfigError`] of the first bad setting, naming the rule.
    pub fn new(
        services_url: &str,
        token_url: &str,
        app_key: &str,
        app_secret: impl Into<SecretString>,
        seller_tax_id: &str,
    ) -> Result<NuonuoConfig, NuonuoConfigError> {
        let services = check_url(services_url).map_err(NuonuoConfigError::ServicesUrl)?;
        if services.path() != SERVICES_PATH {
            return Err(NuonuoConfigError::ServicesUrl(format!(
                "the path must be {SERVICES_PATH} (it is part of the signature), got {:?}",
                services.path()
            )));
        }
        check_url(token_url).map_err(NuonuoConfigError::TokenUrl)?;
        if app_key.is_empty()
            || app_key.len() > 64
            || !app_key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(NuonuoConfigError::AppKey(
                "must be 1 to 64 ASCII letters and digits".to_owned(),
            ));
        }
        let app_secret = app_secret.into();
        if app_secret.expose_secret().trim().is_empty() {
            return Err(NuonuoConfigError::AppSecret("must not be empty".to_owned()));
        }
        if !(15..=20).contains(&seller_tax_id.len())
            || !seller_tax_id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(NuonuoConfigError::SellerTaxId(
                "must be 15 to 20 ASCII letters and digits (the userTax header)".to_owned(),
            ));
        }
        Ok(NuonuoConfig {
            services_url: services.as_str().to_owned(),
            token_url: token_url.to_owned(),
            app_key: app_key.to_owned(),
            app_secret,
            seller_tax_id: seller_tax_id.to_owned(),
            app_type: AppType::SelfUse,
            extension_number: None,
            callback_url: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            token_policy: TokenPolicy::default(),
        })
    }

    /// An ISV app acting for the merchant `user_id`.
    ///
    /// # Errors
    /// [`NuonuoConfigError::Isv`] when a value is empty.
    pub fn with_isv(
        mut self,
        user_id: &str,
        refresh_token: impl Into<SecretString>,
    ) -> Result<NuonuoConfig, NuonuoConfigError> {
        let refresh_token = refresh_token.into();
        if user_id.trim().is_empty() {
            return Err(NuonuoConfigError::Isv(
                "user_id: must not be empty".to_owned(),
            ));
        }
        if refresh_token.expose_secret().trim().is_empty() {
            return Err(NuonuoConfigError::Isv(
                "refresh_token: must not be empty".to_owned(),
            ));
        }
        self.app_type = AppType::Isv {
            user_id: user_id.trim().to_owned(),
            refresh_token,
        };
        Ok(self)
    }

    /// Sets `extensionNumber` (分机号), which selects the bureau account for 数电.
    #[must_use]
    pub fn with_extension_number(mut self, extension: Option<String>) -> NuonuoConfig {
        self.extension_number = extension.filter(|e| !e.trim().is_empty());
        self
    }

    /// Sets `callBackUrl`, where Nuonuo pushes results (a hint to query).
    #[must_use]
    pub fn with_callback_url(mut self, url: Option<String>) -> NuonuoConfig {
        self.callback_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    /// Sets the connect timeout (a call that times out connecting was not sent).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> NuonuoConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of a whole call (a call that times out after sending has an unknown
    /// outcome).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> NuonuoConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets the token budget and refresh policy.
    #[must_use]
    pub fn with_token_policy(mut self, policy: TokenPolicy) -> NuonuoConfig {
        self.token_policy = policy;
        self
    }

    /// The app key.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The seller's tax id (`userTax`).
    pub fn seller_tax_id(&self) -> &str {
        &self.seller_tax_id
    }

    /// The business endpoint.
    pub fn services_url(&self) -> &str {
        &self.services_url
    }
}
