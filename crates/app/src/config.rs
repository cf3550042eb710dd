//! Configuration: built-in defaults < `fapiao.toml` < environment variables (`FAPIAO__…`),
//! validated at start with messages that name the key.
//!
//! The defaults run everything on one machine: the Weixin sandbox in-process, the sandbox
//! issuer, an SQLite file under `./data`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use fapiao_domain::Secret;
use fapiao_domain::ids::{AppId, SellerId};
use fapiao_domain::invoice::InvoiceKind;
use fapiao_domain::party::{PartyName, Seller, TaxpayerId};
use fapiao_domain::scenario::PageStyle;
use fapiao_domain::weixin::{AuthFields, CardTemplate, Contact};
use serde::Deserialize;

use crate::settings::{Accounts, RetryPolicy, SellerSettings, Settings};

mod console;
mod live;
mod server;
mod strict;

pub use console::ConsoleConfig;
pub use live::SANDBOX_SELLER_TAX_ID;
pub use server::{LogConfig, LogFormat, MetricsAuth};

mod nuonuo;
pub use nuonuo::{NuonuoAppType, NuonuoEnvironment, NuonuoIssuerConfig};

mod tax_categories;
mod webhooks;

pub use tax_categories::{TableMode, TaxCategoriesConfig};
pub use webhooks::{WebhookConfig, WebhookDeliveryConfig};

/// The built-in defaults (the sandbox profile).
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// The API key of the built-in sandbox profile; refused in live mode.
pub const SANDBOX_API_KEY: &str = "sandbox-api-key-change-me";

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {rule}")]
pub struct ConfigError {
    /// The key, e.g. `weixin.official_account.appid`.
    pub key: String,
    /// What is wrong.
    pub rule: String,
}

fn err(key: impl Into<String>, rule: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        key: key.into(),
        rule: rule.to_string(),
    }
}

/// `weixin.mode`: where Weixin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeixinMode {
    /// The Weixin sandbox, started in-process.
    Sandbox,
    /// The real Weixin (or the sandbox at `weixin.base_url`, run as its own process).
    Live,
}

/// `weixin.callback.mode`: the message security mode set on the Official Account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackMode {
    /// 明文.
    Plain,
    /// 兼容.
    Compatible,
    /// 安全.
    Safe,
}

/// `issuer.kind`: the tax platform behind the issuer port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerKind {
    /// The built-in sandbox tax platform.
    Sandbox,
    /// The merchant's own issuing service over HTTP (`docs/issuers/gateway.md`).
    Gateway,
    /// Nuonuo's 诺税通saas open platform (`docs/issuers/nuonuo.md`), set up in `[issuer.nuonuo]`.
    Nuonuo,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    /// Listen address of the service.
    pub listen: SocketAddr,
    /// Public base URL (for QR codes and the callback URL shown to operators).
    pub public_base_url: String,
    /// Merchant API key.
    pub api_key: Secret,
    /// Who may read `/metrics`: `auto` (open in the sandbox profile, the API key in live
    /// mode), `open`, `api_key` or `token` (`metrics_token`).
    pub metrics_auth: MetricsAuth,
    /// Bearer token of `/metrics` when `metrics_auth = "token"`.
    pub metrics_token: Secret,
    /// From the first byte of a request to the end of its headers, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// From the end of the headers to the end of the body, in milliseconds.
    pub body_read_timeout_ms: u64,
    /// A kept-alive connection with no request is closed after this many milliseconds.
    pub idle_timeout_ms: u64,
    /// Connections served at once (0 = the descriptor limit less a reserve).
    pub max_connections: usize,
    /// The largest declared body any route takes, in bytes.
    pub max_body_bytes: u64,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub url: String,
    /// SQLite file only: `full` or `normal` (PostgreSQL keeps `synchronous_commit`).
    pub sqlite_synchronous: SqliteSynchronous,
}

/// `database.sqlite_synchronous`: when an SQLite commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    /// Every commit is synced: it survives a power loss (the default).
    Full,
    /// Synced at checkpoints only: faster, but the last commits may roll back on a power loss,
    /// and a lost `issuing` save may mean a second invoice.
    Normal,
}

/// One Weixin account.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountConfig {
    /// Appid.
    pub appid: String,
    /// App secret.
    pub secret: Secret,
}

/// `[weixin.callback]`.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackConfig {
    /// Push token.
    pub token: Secret,
    /// EncodingAESKey (43 characters).
    pub encoding_aes_key: Secret,
    /// Previous EncodingAESKey during a rotation.
    pub previous_encoding_aes_key: Option<Secret>,
    /// `plain`, `compatible` or `safe`.
    pub mode: CallbackMode,
    /// Replay window in seconds (0 disables the check).
    pub timestamp_window_seconds: u64,
}

/// `[weixin]`.
#[derive(Debug, Clone, Deserialize)]
pub struct WeixinConfig {
    /// `sandbox` (start the sandbox in-process and talk to it) or `live`.
    pub mode: WeixinMode,
    /// API base URL (`https://api.weixin.qq.com` for live); empty = the mode's default.
    pub base_url: String,
    /// Use `stable_token` instead of `token`.
    pub stable_token: bool,
    /// Request timeout in milliseconds.
    pub timeout_ms: u64,
    /// The Official Account.
    pub official_account: AccountConfig,
    /// The Mini Program.
    pub mini_program: Option<AccountConfig>,
    /// The App's Open Platform account.
    pub open_platform_app: Option<AccountConfig>,
    /// Push settings.
    pub callback: CallbackConfig,
}

/// `[sandbox]`.
#[derive(Debug, Clone, Deserialize)]
pub struct SandboxConfig {
    /// Listen address of the in-process sandbox.
    pub listen: SocketAddr,
    /// Seed of the fault injector.
    pub seed: u64,
}

/// `[invoicing]`.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicingConfig {
    /// Auth page style when a request names none (0 or 1).
    pub default_page_style: i64,
    /// Merchant contact phone shown on the auth page.
    pub contact_phone: String,
    /// Invoicing timeout shown on the auth page (`time_out`, seconds).
    pub contact_time_out_seconds: u32,
    /// WeChat Pay mchid for post-payment invoicing (empty = off).
    pub pay_mchid: String,
    /// Poll `getauthdata` for orders waiting longer than this for their push.
    pub reconcile_after_seconds: i64,
    /// Ask `card/user/getcardlist` for the code of a card whose `insert` answer was lost.
    pub lookup_lost_card_codes: bool,
    /// Step attempts before needs-attention.
    pub max_attempts: u32,
}

/// `[sellers.<key>]`: one invoicing entity.
#[derive(Debug, Clone, Deserialize)]
pub struct SellerConfig {
    /// Name on the invoice.
    pub name: String,
    /// USCC / taxpayer id.
    pub tax_id: String,
    /// Address and phone.
    pub address_phone: Option<String>,
    /// Bank and account.
    pub bank_account: Option<String>,
    /// Drawer (the tax-bureau account's name).
    pub drawer: String,
    /// `digital_ordinary` or `digital_special`.
    pub kind: InvoiceKind,
    /// Card: short title (≤ 9 characters).
    pub card_title: String,
    /// Card: logo URL.
    pub card_logo_url: String,
}

/// `[issuer]`.
#[derive(Debug, Clone, Deserialize)]
pub struct IssuerConfig {
    /// `sandbox`, `gateway` or `nuonuo`. Has no default in live mode: it must be stated there.
    #[serde(default = "sandbox_issuer")]
    pub kind: IssuerKind,
    /// Whether `kind` was stated in the configuration (set at load, not a key).
    #[serde(skip)]
    pub kind_stated: bool,
    /// Let live mode issue on the sandbox issuer (PDFs marked "SANDBOX / 非正式发票").
    pub allow_sandbox_in_live: bool,
    /// Gateway URL (kind `gateway`).
    pub gateway_url: String,
    /// Gateway HMAC secret (kind `gateway`).
    pub gateway_secret: Secret,
    /// Nuonuo settings (kind `nuonuo`).
    #[serde(default)]
    pub nuonuo: NuonuoIssuerConfig,
    /// Kind `sandbox`: shares of new invoices answered pending, outcome unknown or rejected,
    /// e.g. `pending=0.05,unknown=0.05,reject=0.02` (for chaos runs; empty = none).
    #[serde(default)]
    pub sandbox_mix: String,
}

fn sandbox_issuer() -> IssuerKind {
    IssuerKind::Sandbox
}

/// `[runner]`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunnerConfig {
    /// Worker id (unique per instance; empty = derived from the host and process).
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Lease of a claimed job in seconds; a crashed instance's jobs run again after it.
    pub lease_seconds: u64,
    /// Processed pushes are purged from the inbox after this many hours (0 keeps them).
    pub inbox_retention_hours: u64,
    /// How often orders waiting for their authorization push are reconciled with
    /// `getauthdata` (those waiting longer than `invoicing.reconcile_after_seconds`).
    pub reconcile_interval_seconds: u64,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Server.
    pub server: ServerConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Weixin.
    pub weixin: WeixinConfig,
    /// Sandbox.
    pub sandbox: SandboxConfig,
    /// Invoicing.
    pub invoicing: InvoicingConfig,
    /// Sellers by key.
    pub sellers: BTreeMap<String, SellerConfig>,
    /// Issuer.
    pub issuer: IssuerConfig,
    /// Runner.
    pub runner: RunnerConfig,
    /// The tax category table override.
    pub tax_categories: TaxCategoriesConfig,
    /// Logs.
    pub log: LogConfig,
    /// The merchant's webhook endpoints (`[[webhooks]]`).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// How webhook events are delivered.
    pub webhook_delivery: WebhookDeliveryConfig,
    /// The operator console.
    pub console: ConsoleConfig,
}

impl Config {
    /// Loads defaults, then `file` if it exists (or `fapiao.toml` in the working directory),
    /// then `FAPIAO__SECTION__KEY` environment variables.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key that does not parse.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        let path = file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| "fapiao.toml".into());
        if file.is_some() && !path.exists() {
            return Err(err(
                "--config",
                format!("{} does not exist", path.display()),
            ));
        }
        if path.exists() {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let environment = strict::environment();
        strict::check_environment(&environment)?;
        builder = builder.add_source(
            config::Environment::with_prefix("FAPIAO")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(environment)),
        );
        Config::finish(builder.build().map_err(|e| err("config", e))?)
    }

    /// Loads from a TOML string layered over the defaults (for tests and embedding hosts).
    ///
    /// # Errors
    /// As for [`Config::load`].
    pub fn from_toml(overrides: &str) -> Result<Config, ConfigError> {
        let raw = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from_str(overrides, config::FileFormat::Toml))
            .build()
            .map_err(|e| err("config", e))?;
        Config::finish(raw)
    }

    /// Refuses unknown keys, then parses, noting what was stated.
    fn finish(raw: config::Config) -> Result<Config, ConfigError> {
        strict::check_keys(&raw)?;
        let kind_stated = raw
            .get::<String>("issuer.kind")
            .is_ok_and(|kind| !kind.is_empty());
        let mut config: Config = raw.try_deserialize().map_err(|e| err("config", e))?;
        config.issuer.kind_stated = kind_stated;
        // An account whose appid is empty is turned off (its scenario is unavailable).
        for account in [
            &mut config.weixin.mini_program,
            &mut config.weixin.open_platform_app,
        ] {
            if account.as_ref().is_some_and(|a| a.appid.trim().is_empty()) {
                *account = None;
            }
        }
        Ok(config)
    }

    /// Whether Weixin is the in-process sandbox.
    pub fn is_sandbox(&self) -> bool {
        self.weixin.mode == WeixinMode::Sandbox
    }

    /// Checks everything and builds the use cases' settings.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the key and the rule.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        self.check_live()?;
        self.check_server()?;
        self.webhook_settings("")?;
        self.check_console()?;
        if self.weixin.callback.mode != CallbackMode::Plain
            && self.weixin.callback.encoding_aes_key.expose().len() != 43
        {
            return Err(err(
                "weixin.callback.encoding_aes_key",
                "must be the 43-character EncodingAESKey",
            ));
        }
        if self.weixin.callback.token.is_empty() {
            return Err(err("weixin.callback.token", "must not be empty"));
        }
        if !self.is_sandbox()
            && (self.server.api_key.expose().len() < 16
                || self.server.api_key.expose() == SANDBOX_API_KEY)
        {
            return Err(err(
                "server.api_key",
                "set your own API key of at least 16 characters for live mode (the sandbox default is public)",
            ));
        }
        let account = |key: &str, config: &AccountConfig| -> Result<AppId, ConfigError> {
            if config.secret.is_empty() {
                return Err(err(format!("{key}.secret"), "must not be empty"));
            }
            AppId::parse(&config.appid).map_err(|e| err(format!("{key}.appid"), e.rule))
        };
        let accounts = Accounts {
            official_account: account("weixin.official_account", &self.weixin.official_account)?,
            mini_program: self
                .weixin
                .mini_program
                .as_ref()
                .map(|a| account("weixin.mini_program", a))
                .transpose()?,
            open_platform_app: self
                .weixin
                .open_platform_app
                .as_ref()
                .map(|a| account("weixin.open_platform_app", a))
                .transpose()?,
        };
        if self.sellers.is_empty() {
            return Err(err("sellers", "configure at least one seller"));
        }
        let mut sellers = BTreeMap::new();
        for (key, seller) in &self.sellers {
            let prefix = format!("sellers.{key}");
            let id = SellerId::parse(key).map_err(|e| err(&prefix, e.rule))?;
            let name =
                PartyName::parse(&seller.name).map_err(|e| err(format!("{prefix}.name"), e))?;
            let tax_id = TaxpayerId::parse(&seller.tax_id)
                .map_err(|e| err(format!("{prefix}.tax_id"), e))?;
            let face = Seller::new(
                name,
                tax_id,
                seller.address_phone.clone(),
                seller.bank_account.clone(),
                &seller.drawer,
            )
            .map_err(|e| err(&prefix, e))?;
            let kind = seller.kind;
            let card_template = CardTemplate {
                payee: seller.name.clone(),
                invoice_type: kind.face_title().to_owned(),
                title: seller.card_title.clone(),
                logo_url: seller.card_logo_url.clone(),
                custom_url: None,
                promotion_url: None,
            };
            card_template
                .validate()
                .map_err(|e| err(format!("{prefix}.card_title"), e))?;
            sellers.insert(
                id,
                SellerSettings {
                    seller: face,
                    kind,
                    card_template,
                },
            );
        }
        let default_page_style = match self.invoicing.default_page_style {
            0 => PageStyle::Apply,
            1 => PageStyle::FillTitle,
            _ => return Err(err("invoicing.default_page_style", "must be 0 or 1")),
        };
        if self.invoicing.contact_phone.trim().is_empty() {
            return Err(err(
                "invoicing.contact_phone",
                "must not be empty (getauthurl fails with 72063 without a contact)",
            ));
        }
        if self.invoicing.max_attempts == 0 {
            return Err(err("invoicing.max_attempts", "must be at least 1"));
        }
        let tax_categories = self.tax_categories.load()?;
        Ok(Settings {
            accounts,
            sellers,
            default_page_style,
            contact: Contact {
                phone: self.invoicing.contact_phone.clone(),
                time_out_seconds: self.invoicing.contact_time_out_seconds,
            },
            auth_fields: AuthFields::standard(),
            pay_mchid: Some(self.invoicing.pay_mchid.trim().to_owned()).filter(|m| !m.is_empty()),
            retry: RetryPolicy {
                max_attempts: self.invoicing.max_attempts,
                ..RetryPolicy::default()
            },
            reconcile_after_millis: self.invoicing.reconcile_after_seconds.saturating_mul(1000),
            lookup_lost_card_codes: self.invoicing.lookup_lost_card_codes,
            tax_categories,
        })
    }

    /// The API key as a secret.
    pub fn api_key(&self) -> Secret {
        self.server.api_key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_run_the_sandbox() {
        let config = Config::from_toml("").unwrap_or_else(|e| panic!("{e}"));
        assert!(config.is_sandbox());
        let settings = config.settings().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.sellers.len(), 1);
        assert!(settings.pay_mchid.is_some());
        assert_eq!(config.runner.inbox_retention_hours, 168);
        assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Full);
        assert!(
            settings.accounts.mini_program.is_some()
                && settings.accounts.open_platform_app.is_some()
        );
    }

    #[test]
    fn typed_values_are_parsed_at_load() {
        let config = Config::from_toml(
            "[server]\nlisten = \"0.0.0.0:9000\"\n[weixin]\nmode = \"live\"\n\
             [weixin.callback]\nmode = \"compatible\"\n[issuer]\nkind = \"gateway\"",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(config.weixin.mode, WeixinMode::Live);
        assert!(!config.is_sandbox());
        assert_eq!(config.weixin.callback.mode, CallbackMode::Compatible);
        assert_eq!(config.issuer.kind, IssuerKind::Gateway);
        assert_eq!(
            config.sellers.get("store-01").map(|s| s.kind),
            Some(InvoiceKind::DigitalOrdinary)
        );
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let config = Config::from_toml("").unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{config:?}");
        for secret in [
            "sandbox-official-account-secret",
            "sandboxtoken",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            SANDBOX_API_KEY,
        ] {
            assert!(!text.contains(secret), "{secret} printed");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let check = |toml: &str, expected: &str| {
            let message = Config::from_toml(toml)
                .and_then(|c| c.settings().map(|_| ()))
                .err()
                .map(|e| e.to_string());
            assert!(
                message.as_deref().is_some_and(|m| m.contains(expected)),
                "{message:?} should contain {expected:?}"
            );
        };
        check("[weixin]\nmode = \"prod\"", "weixin.mode");
        check(
            "[weixin.official_account]\nappid = \"wx 1\"",
            "weixin.official_account.appid",
        );
        check(
            "[sellers.store-01]\ntax_id = \"91440300708461136A\"",
            "sellers.store-01.tax_id",
        );
        check(
            "[invoicing]\ndefault_page_style = 2",
            "invoicing.default_page_style",
        );
        check("[weixin]\nmode = \"live\"", "server.api_key");
        // Modes, kinds and addresses are parsed at load: a typo is an error naming the key,
        // never a silent fallback.
        check(
            "[weixin.callback]\nmode = \"safe-ish\"",
            "weixin.callback.mode",
        );
        check("[issuer]\nkind = \"nuonuo2\"", "issuer.kind");
        check(
            "[database]\nsqlite_synchronous = \"off\"",
            "database.sqlite_synchronous",
        );
        check("[server]\nlisten = \"localhost:80:80\"", "server.listen");
        check("[sandbox]\nlisten = \"nowhere\"", "sandbox.listen");
        check(
            "[sellers.store-01]\nkind = \"paper\"",
            "sellers.store-01.kind",
        );
        check(
            "[weixin.callback]\nencoding_aes_key = \"short\"",
            "weixin.callback.encoding_aes_key",
        );
    }
}
