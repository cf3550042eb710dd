#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Going live safely: live mode refuses the built-in sandbox credentials and wants the issuer
//! stated, `/metrics` can be protected, and every listener holds its connection limits.

use std::net::SocketAddr;

use fapiao::StartOptions;
use fapiao_app::Config;

use crate::app::{Db, test_db};

fn options(db: &fapiao_storage::testing::TestDatabase) -> StartOptions {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    StartOptions {
        database: Some(db.database().clone()),
        listen: Some(any),
        sandbox_listen: Some(any),
        skip_setup: false,
        skip_runner: true,
    }
}

async fn start_error(toml: &str) -> String {
    let db = test_db(Db::Sqlite, "golive_refused").await;
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    match fapiao::start(config, options(&db)).await {
        Ok(running) => {
            running.shutdown().await;
            panic!("started with {toml}");
        }
        Err(e) => format!("{e:#}"),
    }
}

/// Live mode with credentials of its own; `issuer` is added to `[issuer]`.
fn live(issuer: &str) -> String {
    format!(
        "[server]\napi_key = \"live-api-key-0123456789\"\n\
         [weixin]\nmode = \"live\"\nbase_url = \"http://127.0.0.1:9\"\n\
         [weixin.official_account]\nappid = \"wx1234567890abcdef\"\nsecret = \"own-official-secret\"\n\
         [weixin.mini_program]\nappid = \"\"\n[weixin.open_platform_app]\nappid = \"\"\n\
         [weixin.callback]\ntoken = \"own-token\"\n\
         encoding_aes_key = \"ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut\"\n\
         [sellers.store-01]\ntax_id = \"91440300708461136T\"\n[issuer]\n{issuer}\n"
    )
}

#[tokio::test]
async fn live_mode_refuses_every_builtin_credential_naming_the_key() {
    let error = start_error("[weixin]\nmode = \"live\"\n").await;
    for key in [
        "server.api_key",
        "weixin.callback.token",
        "weixin.callback.encoding_aes_key",
        "weixin.official_account.appid",
        "weixin.official_account.secret",
        "weixin.mini_program.secret",
        "weixin.open_platform_app.secret",
        "sellers.store-01.tax_id",
    ] {
        assert!(error.contains(key), "{key} not named: {error}");
    }
    // A push sealed with the public sandbox token would be accepted: the token alone is refused.
    let own = live("kind = \"gateway\"");
    let error = start_error(&own.replace("own-token", "sandboxtoken")).await;
    assert!(
        error.starts_with("configuration: weixin.callback.token: live mode refuses"),
        "{error}"
    );
}

#[tokio::test]
async fn live_mode_wants_the_issuer_stated() {
    let error = start_error(&live("")).await;
    assert!(
        error.starts_with("configuration: issuer.kind: must be stated in live mode"),
        "{error}"
    );
    let error = start_error(&live("kind = \"sandbox\"")).await;
    assert!(
        error.starts_with("configuration: issuer.allow_sandbox_in_live: "),
        "{error}"
    );
}

pub async fn metrics_are_protected(kind: Db) {
    let db = test_db(kind, "golive_metrics").await;
    let config = Config::from_toml(
        "[server]\nmetrics_auth = \"token\"\nmetrics_token = \"prometheus-token-0001\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let running = fapiao::start(config, options(&db))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let url = format!("{}/metrics", running.base_url());
    let http = reqwest::Client::new();
    let status = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    let (code, body) = status(http.get(&url)).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("\"unauthorized\""), "{body}");
    let (code, _) = status(http.get(&url).bearer_auth(crate::app::KEY)).await;
    assert_eq!(code, 401, "the API key is not the metrics token");
    let (code, body) = status(http.get(&url).bearer_auth("prometheus-token-0001")).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("fapiao_"), "{body}");
    running.shutdown().await;
}

crate::on_both_databases!(
    metrics_can_be_protected_by_a_token,
    crate::golive::metrics_are_protected
);
