//! A wiremock Weixin and a client pointed at it.

use std::time::Duration;

use fapiao_domain::AppId;
use fapiao_weixin::{Account, ReqwestWeixinClient, RetryPolicy, WeixinConfig};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const APPID: &str = "wx1111111111111111";
pub const MINI_APPID: &str = "wx2222222222222222";
pub const SECRET: &str = "app-s3cret";
pub const TOKEN: &str = "ACCESS_TOKEN_1";

pub fn appid() -> AppId {
    AppId::parse(APPID).expect("appid")
}

pub fn mini_appid() -> AppId {
    AppId::parse(MINI_APPID).expect("appid")
}

pub fn config(server: &MockServer) -> WeixinConfig {
    let mut config = WeixinConfig::new(Account::new(appid(), SECRET))
        .with_account(Account::new(mini_appid(), "mini-s3cret"))
        .with_base_url(server.uri());
    config.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    config
}

pub fn client(server: &MockServer) -> ReqwestWeixinClient {
    ReqwestWeixinClient::new(config(server)).expect("client")
}

pub fn ok(extra: Value) -> ResponseTemplate {
    let mut body = json!({"errcode": 0, "errmsg": "ok"});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

pub fn err(errcode: i64, errmsg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": errcode, "errmsg": errmsg}))
}

pub fn token_answer(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"access_token": token, "expires_in": 7200}))
}

/// Mounts a stable-token endpoint for the platform account answering `token`, expected `times`.
pub async fn mount_token(server: &MockServer, token: &str, times: impl Into<wiremock::Times>) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"appid": APPID})))
        .respond_with(token_answer(token))
        .expect(times)
        .named("stable_token")
        .mount(server)
        .await;
}

/// A server with the platform account's token endpoint mounted.
pub async fn weixin() -> (MockServer, ReqwestWeixinClient) {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 1).await;
    let client = client(&server);
    (server, client)
}

/// Like [`weixin`], for tests in which the platform account may never need its token.
pub async fn weixin_maybe_unused() -> (MockServer, ReqwestWeixinClient) {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 0..=1).await;
    let client = client(&server);
    (server, client)
}
