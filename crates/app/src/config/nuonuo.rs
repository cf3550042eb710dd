//! `[issuer.nuonuo]`: the Nuonuo (诺税通saas) issuer's settings, used when `issuer.kind =
//! "nuonuo"`. The composition root turns them into the adapter's configuration and names the
//! key of any refused value (`issuer.nuonuo.app_key: …`).

use std::net::SocketAddr;

use fapiao_domain::Secret;
use serde::Deserialize;

/// `issuer.nuonuo.environment`: which Nuonuo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NuonuoEnvironment {
    /// Nuonuo's sandbox (`sandbox.nuonuocs.cn`).
    Sandbox,
    /// Production (`sdk.nuonuo.com`).
    Production,
    /// fapiao's Nuonuo emulator, started in-process on `emulator_listen` unless `services_url`
    /// points elsewhere.
    Emulator,
}

/// `issuer.nuonuo.app_type`: how the token is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NuonuoAppType {
    /// 自用型应用: `client_credentials`.
    SelfUse,
    /// 第三方应用: `refresh_token` with `isv_user_id` and `isv_refresh_token`.
    Isv,
}

/// `[issuer.nuonuo]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NuonuoIssuerConfig {
    /// `sandbox`, `production` or `emulator`.
    pub environment: NuonuoEnvironment,
    /// Business endpoint override (`…/open/v1/services`); empty = the environment's.
    pub services_url: String,
    /// Token endpoint override; empty = the environment's.
    pub token_url: String,
    /// The app key (appKey).
    pub app_key: String,
    /// The app secret (appSecret).
    pub app_secret: Secret,
    /// The merchant's tax id (the `userTax` header); must equal the sellers' tax id.
    pub seller_tax_id: String,
    /// `self_use` (自用型应用) or `isv` (第三方应用).
    pub app_type: NuonuoAppType,
    /// ISV: the merchant's `userId`.
    pub isv_user_id: String,
    /// ISV: the refresh token of the merchant's authorisation.
    pub isv_refresh_token: Secret,
    /// 分机号 (`extensionNumber`), selecting the bureau account; empty = none.
    pub extension_number: String,
    /// Where Nuonuo pushes results (`callBackUrl`); empty = the URL configured at Nuonuo.
    pub callback_url: String,
    /// Connect timeout in milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-call timeout in milliseconds.
    pub request_timeout_ms: u64,
    /// Token calls allowed per 30 days (Nuonuo: 50).
    pub token_budget: u32,
    /// Token calls fapiao never makes by itself (kept for an operator).
    pub token_reserve: u32,
    /// Least seconds between two token calls.
    pub token_min_interval_seconds: u64,
    /// Where `environment = "emulator"` starts the emulator.
    pub emulator_listen: SocketAddr,
}

impl Default for NuonuoIssuerConfig {
    fn default() -> Self {
        Self {
            environment: NuonuoEnvironment::Sandbox,
            services_url: String::new(),
            token_url: String::new(),
            app_key: String::new(),
            app_secret: Secret::new(""),
            seller_tax_id: String::new(),
            app_type: NuonuoAppType::SelfUse,
            isv_user_id: String::new(),
            isv_refresh_token: Secret::new(""),
            extension_number: String::new(),
            callback_url: String::new(),
            connect_timeout_ms: 5_000,
            request_timeout_ms: 20_000,
            token_budget: 50,
            token_reserve: 5,
            token_min_interval_seconds: 600,
            emulator_listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
        }
    }
}
