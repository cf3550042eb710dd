//! Wiring of the Nuonuo issuer (`issuer.kind = "nuonuo"`): `[issuer.nuonuo]` to the adapter's
//! configuration with every refusal naming its key, the in-process emulator of
//! `environment = "emulator"`, and the `doctor` checks (credentials and token budget).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use fapiao_app::Config;
use fapiao_app::config::{NuonuoAppType, NuonuoEnvironment};
use fapiao_domain::ports::{Clock, TokenCache};
use fapiao_issuer::nuonuo::{
    PRODUCTION_SERVICES_URL, SANDBOX_SERVICES_URL, TOKEN_URL, TokenPolicy,
};
use fapiao_issuer::{NuonuoConfig, NuonuoConfigError, NuonuoIssuer};
use fapiao_sandbox::nuonuo::NuonuoEmulatorConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const KEY: &str = "issuer.nuonuo";

/// The adapter configuration of `[issuer.nuonuo]`. With `environment = "emulator"`,
/// `services_url` must point at the emulator ([`pointed_at`] sets it for the in-process one).
///
/// # Errors
/// The first refused setting, naming its key.
pub fn nuonuo_config(config: &Config) -> anyhow::Result<NuonuoConfig> {
    let nuonuo = &config.issuer.nuonuo;
    let emulator = NuonuoEmulatorConfig::default();
    let services = match (nuonuo.environment, nuonuo.services_url.as_str()) {
        (_, url) if !url.is_empty() => url.to_owned(),
        (NuonuoEnvironment::Sandbox, _) => SANDBOX_SERVICES_URL.to_owned(),
        (NuonuoEnvironment::Production, _) => PRODUCTION_SERVICES_URL.to_owned(),
        (NuonuoEnvironment::Emulator, _) => {
            bail!("{KEY}.services_url: set it to the emulator's …/open/v1/services")
        }
    };
    let token = if nuonuo.token_url.is_empty() {
        TOKEN_URL.to_owned()
    } else {
        nuonuo.token_url.clone()
    };
    let is_emulator = nuonuo.environment == NuonuoEnvironment::Emulator;
    let app_key = match nuonuo.app_key.as_str() {
        "" if is_emulator => emulator.app_key.clone(),
        key => key.to_owned(),
    };
    let app_secret = if nuonuo.app_secret.is_empty() && is_emulator {
        emulator.app_secret.clone()
    } else {
        nuonuo.app_secret.expose().to_owned()
    };
    // One Nuonuo app issues for one tax id: every seller must be that merchant.
    let seller_tax_id = if nuonuo.seller_tax_id.is_empty() {
        match config.sellers.values().next() {
            Some(seller) if config.sellers.len() == 1 => seller.tax_id.clone(),
            _ => bail!("{KEY}.seller_tax_id: required with several sellers"),
        }
    } else {
        nuonuo.seller_tax_id.clone()
    };
    if let Some((key, seller)) = config
        .sellers
        .iter()
        .find(|(_, s)| s.tax_id != seller_tax_id)
    {
        bail!(
            "{KEY}.seller_tax_id: {seller_tax_id} differs from sellers.{key}.tax_id {} (Nuonuo refuses it with E9302)",
            seller.tax_id
        );
    }
    let name = |error: NuonuoConfigError| match error {
        NuonuoConfigError::ServicesUrl(rule) => anyhow::anyhow!("{KEY}.services_url: {rule}"),
        NuonuoConfigError::TokenUrl(rule) => anyhow::anyhow!("{KEY}.token_url: {rule}"),
        NuonuoConfigError::AppKey(rule) => anyhow::anyhow!("{KEY}.app_key: {rule}"),
        NuonuoConfigError::AppSecret(rule) => anyhow::anyhow!("{KEY}.app_secret: {rule}"),
        NuonuoConfigError::SellerTaxId(rule) => anyhow::anyhow!("{KEY}.seller_tax_id: {rule}"),
        NuonuoConfigError::Isv(rule) => anyhow::anyhow!("{KEY}.isv_{rule}"),
        other => anyhow::anyhow!(other),
    };
    let mut adapter =
        NuonuoConfig::new(&services, &token, &app_key, app_secret, &seller_tax_id).map_err(name)?;
    if nuonuo.app_type == NuonuoAppType::Isv {
        adapter = adapter
            .with_isv(
                &nuonuo.isv_user_id,
                nuonuo.isv_refresh_token.expose().to_owned(),
            )
            .map_err(name)?;
    }
    if nuonuo.token_budget == 0 || nuonuo.token_reserve >= nuonuo.token_budget {
        bail!("{KEY}.token_reserve: must be below token_budget, which must be at least 1");
    }
    Ok(adapter
        .with_extension_number(Some(nuonuo.extension_number.clone()))
        .with_callback_url(Some(nuonuo.callback_url.clone()))
        .with_connect_timeout(Duration::from_millis(nuonuo.connect_timeout_ms.max(100)))
        .with_request_timeout(Duration::from_millis(nuonuo.request_timeout_ms.max(100)))
        .with_token_policy(TokenPolicy {
            budget: nuonuo.token_budget,
            reserve: nuonuo.token_reserve,
            min_interval: Duration::from_secs(nuonuo.token_min_interval_seconds),
            ..TokenPolicy::default()
        }))
}

/// Starts the in-process emulator when `environment = "emulator"` and no `services_url` is
/// set; returns its base URL and task.
///
/// # Errors
/// When its address does not parse or cannot be bound.
pub async fn start_emulator(
    config: &Config,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<(String, JoinHandle<()>)>> {
    let nuonuo = &config.issuer.nuonuo;
    if nuonuo.environment != NuonuoEnvironment::Emulator || !nuonuo.services_url.is_empty() {
        return Ok(None);
    }
    let listener = TcpListener::bind(nuonuo.emulator_listen)
        .await
        .with_context(|| {
            format!(
                "binding the Nuonuo emulator on {} ({KEY}.emulator_listen)",
                nuonuo.emulator_listen
            )
        })?;
    let base = format!("http://{}", listener.local_addr()?);
    let emulator = NuonuoEmulatorConfig {
        seller_name: config.sellers.values().next().map_or_else(
            || NuonuoEmulatorConfig::default().seller_name,
            |s| s.name.clone(),
        ),
        ..NuonuoEmulatorConfig::default()
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            result = fapiao_sandbox::nuonuo::serve(listener, emulator) => {
                if let Err(e) = result { tracing::error!(error = %e, "nuonuo emulator stopped"); }
            }
            _ = stop.changed() => {}
        }
    });
    Ok(Some((base, task)))
}

/// `config` with the Nuonuo endpoints at the emulator served at `base_url`.
pub fn pointed_at(mut config: Config, base_url: &str) -> Config {
    config.issuer.nuonuo.services_url = format!("{base_url}/open/v1/services");
    config.issuer.nuonuo.token_url = format!("{base_url}/accessToken");
    config
}

/// The Nuonuo issuer on the shared token cache.
///
/// # Errors
/// A refused setting naming its key, or an HTTP client that cannot be built.
pub fn nuonuo_issuer(
    config: &Config,
    cache: Arc<dyn TokenCache>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<NuonuoIssuer> {
    let adapter = nuonuo_config(config)?;
    NuonuoIssuer::new(adapter, cache, clock).context("building the Nuonuo issuer")
}

/// `doctor`'s Nuonuo lines: a harmless signed call, then the token budget it left.
pub async fn doctor(issuer: &NuonuoIssuer) -> Vec<(bool, &'static str, String)> {
    let mut checks = Vec::new();
    match issuer.check_credentials().await {
        Ok(()) => checks.push((
            true,
            "nuonuo credentials",
            format!(
                "{} accepts app key {} for tax id {}",
                issuer.config().services_url(),
                issuer.config().app_key(),
                issuer.config().seller_tax_id()
            ),
        )),
        Err(error) => checks.push((false, "nuonuo credentials", error.to_string())),
    }
    match issuer.token_budget().await {
        Ok(budget) => checks.push((
            budget.spendable() > 0,
            "nuonuo token",
            format!(
                "{} of {} token calls used in the last 30 days ({} kept in reserve); token {}",
                budget.used,
                budget.limit,
                budget.reserve,
                match budget.token_expires_at {
                    Some(at) => format!("stored, expires {at}"),
                    None => "not stored yet".to_owned(),
                }
            ),
        )),
        Err(error) => checks.push((false, "nuonuo token", error.to_string())),
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml: &str) -> Result<NuonuoConfig, String> {
        let config = Config::from_toml(&format!("[issuer]\nkind = \"nuonuo\"\n{toml}"))
            .map_err(|e| e.to_string())?;
        nuonuo_config(&pointed_or_not(config)).map_err(|e| format!("{e:#}"))
    }

    fn pointed_or_not(config: Config) -> Config {
        if config.issuer.nuonuo.environment == NuonuoEnvironment::Emulator {
            pointed_at(config, "http://127.0.0.1:9")
        } else {
            config
        }
    }

    #[test]
    fn settings_are_checked_naming_the_key() {
        let emulator = check("[issuer.nuonuo]\nenvironment = \"emulator\"\n").unwrap();
        assert_eq!(
            emulator.services_url(),
            "http://127.0.0.1:9/open/v1/services"
        );
        assert_eq!(emulator.seller_tax_id(), "91110000000000000E");
        let sandbox =
            check("[issuer.nuonuo]\napp_key = \"SD58292829\"\napp_secret = \"x\"\n").unwrap();
        assert_eq!(sandbox.services_url(), SANDBOX_SERVICES_URL);
        assert_eq!(
            check("[issuer.nuonuo]\napp_key = \"\"\napp_secret = \"x\"\n").unwrap_err(),
            "issuer.nuonuo.app_key: must be 1 to 64 ASCII letters and digits"
        );
        assert_eq!(
            check("[issuer.nuonuo]\napp_key = \"k\"\n").unwrap_err(),
            "issuer.nuonuo.app_secret: must not be empty"
        );
        assert!(
            check("[issuer.nuonuo]\napp_key = \"k\"\napp_secret = \"x\"\nseller_tax_id = \"339901999999142\"\n")
                .unwrap_err()
                .starts_with("issuer.nuonuo.seller_tax_id: 339901999999142 differs from sellers.store-01.tax_id")
        );
        let unknown = check("[issuer.nuonuo]\nenvironment = \"prod\"\n").unwrap_err();
        assert!(
            unknown.contains("prod") && unknown.contains("issuer.nuonuo.environment"),
            "{unknown}"
        );
        assert_eq!(
            check("[issuer.nuonuo]\napp_key = \"k\"\napp_secret = \"x\"\napp_type = \"isv\"\n")
                .unwrap_err(),
            "issuer.nuonuo.isv_user_id: must not be empty"
        );
        assert!(
            check("[issuer.nuonuo]\napp_key = \"k\"\napp_secret = \"x\"\nservices_url = \"https://sdk.nuonuo.com/open/v1/services/\"\n")
                .unwrap_err()
                .starts_with("issuer.nuonuo.services_url: the path must be /open/v1/services")
        );
        let config =
            Config::from_toml("[issuer.nuonuo]\napp_secret = \"s3cr3t-nuonuo\"\n").unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t-nuonuo"));
    }
}
