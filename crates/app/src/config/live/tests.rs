use crate::config::{Config, IssuerKind};
use crate::http::MetricsAccess;

/// Live mode with every credential of its own; `server`, `token` and `issuer` are lines added
/// to those sections.
fn live(server: &str, token: &str, issuer: &str) -> String {
    format!(
        "[server]\napi_key = \"live-api-key-0123456789\"\n{server}\n\
         [weixin]\nmode = \"live\"\n\
         [weixin.official_account]\nappid = \"wx1234567890abcdef\"\nsecret = \"own-official-secret\"\n\
         [weixin.mini_program]\nappid = \"wx2234567890abcdef\"\nsecret = \"own-mini-secret\"\n\
         [weixin.open_platform_app]\nappid = \"\"\n\
         [weixin.callback]\ntoken = \"{token}\"\n\
         encoding_aes_key = \"ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut\"\n\
         [sellers.store-01]\ntax_id = \"91440300708461136T\"\n[issuer]\n{issuer}\n"
    )
}

const GATEWAY: &str = "kind = \"gateway\"";

fn check(toml: &str) -> Result<Config, String> {
    let config = Config::from_toml(toml).map_err(|e| e.to_string())?;
    config.settings().map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn live_mode_names_every_builtin_credential() {
    let error = check("[weixin]\nmode = \"live\"").unwrap_err();
    for key in [
        "server.api_key",
        "weixin.callback.token",
        "weixin.callback.encoding_aes_key",
        "weixin.official_account.appid",
        "weixin.official_account.secret",
        "weixin.mini_program.appid",
        "weixin.mini_program.secret",
        "weixin.open_platform_app.appid",
        "weixin.open_platform_app.secret",
        "sellers.store-01.tax_id",
    ] {
        assert!(error.contains(key), "{key} not named in {error}");
    }
    // One left behind is named alone.
    let error = check(&live("", "sandboxtoken", GATEWAY)).unwrap_err();
    assert!(
        error.starts_with("configuration: weixin.callback.token: live mode refuses"),
        "{error}"
    );
}

#[test]
fn live_mode_wants_the_issuer_stated() {
    let error = check(&live("", "own-token", "")).unwrap_err();
    assert!(
        error.starts_with("configuration: issuer.kind: must be stated in live mode"),
        "{error}"
    );
    let error = check(&live("", "own-token", "kind = \"sandbox\"")).unwrap_err();
    assert!(
        error.starts_with("configuration: issuer.allow_sandbox_in_live: "),
        "{error}"
    );
    let config = check(&live(
        "",
        "own-token",
        "kind = \"sandbox\"\nallow_sandbox_in_live = true",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.issuer.kind, IssuerKind::Sandbox);
    let warnings = config.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("LIVE MODE ON THE SANDBOX ISSUER")),
        "{warnings:?}"
    );
    let config = check(&live("", "own-token", GATEWAY)).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    // An account with an empty appid is off.
    assert!(config.weixin.open_platform_app.is_none());
    assert!(config.weixin.mini_program.is_some());
}

#[test]
fn the_sandbox_profile_keeps_its_defaults() {
    let config = check("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.issuer.kind, IssuerKind::Sandbox);
    assert!(!config.issuer.kind_stated);
    assert!(config.warnings().is_empty());
    assert_eq!(config.metrics_access(), MetricsAccess::Open);
    assert_eq!(
        config.sellers.get("store-01").map(|s| s.tax_id.as_str()),
        Some(super::SANDBOX_SELLER_TAX_ID)
    );
}

#[test]
fn metrics_access_is_the_api_key_in_live_mode_unless_configured() {
    let config = check(&live("", "own-token", GATEWAY)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.metrics_access(), MetricsAccess::ApiKey);
    let error = check(&live("metrics_auth = \"token\"", "own-token", GATEWAY)).unwrap_err();
    assert!(
        error.starts_with("configuration: server.metrics_token: must be at least 16"),
        "{error}"
    );
    let config = check(&live(
        "metrics_auth = \"token\"\nmetrics_token = \"prometheus-token-0001\"",
        "own-token",
        GATEWAY,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(config.metrics_access(), MetricsAccess::Token(_)));
    let config = check(&live("metrics_auth = \"open\"", "own-token", GATEWAY))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.warnings().iter().any(|w| w.contains("/metrics")));
}
