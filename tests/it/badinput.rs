#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The bad-input matrix from outside, over HTTP against the running service: forged, replayed,
//! foreign, hostile and oversized pushes at the Weixin callback, and bad requests at the
//! merchant API, are all refused with a 4xx and the JSON error envelope, and change nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use fapiao_weixin::crypto::AesKey;
use fapiao_weixin::seal::{SafePush, SealedPush};
use serde_json::{Value, json};

use crate::app::*;

/// The sandbox profile's push settings (`crates/app/src/defaults.toml`).
const TOKEN: &str = "sandboxtoken";
const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxsandboxofficial01";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn authorization_xml(order_id: &str, timestamp: i64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName>\
         <FromUserName><![CDATA[oBuyerBadInput01]]></FromUserName>\
         <CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[user_authorize_invoice]]></Event>\
         <SuccOrderId><![CDATA[{order_id}]]></SuccOrderId><FailOrderId><![CDATA[]]></FailOrderId>\
         <AuthorizeAppId><![CDATA[{APPID}]]></AuthorizeAppId><Source><![CDATA[web]]></Source></xml>"
    )
}

fn seal(token: &str, appid: &str, timestamp: i64, xml: &str) -> SealedPush {
    let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY).unwrap();
    SafePush {
        token,
        key: &key,
        appid,
        to_user_name: "gh_sandbox",
        openid: "oBuyerBadInput01",
        timestamp,
        nonce: "1357924680",
        random: &[7u8; 16],
    }
    .seal(xml)
}

async fn post_push(app: &TestApp, query: &str, body: String) -> (u16, String) {
    let response = app
        .http
        .post(format!("{}/weixin/callback?{query}", app.base))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The error envelope's code, or the raw text when the answer is not one.
fn error_code(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("not an envelope: {text}"))
}

pub async fn hostile_pushes_change_nothing(kind: Db) {
    let app = spawn_app(kind, "badinput_push").await;
    for order_id in ["BAD-PUSH-1", "BAD-PUSH-2"] {
        let (status, body) = app
            .api(
                "POST",
                "/v1/orders",
                Some(order_body("official_account", order_id)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let now = now();
    let good = authorization_xml("BAD-PUSH-1", now);
    let mut tampered = seal(TOKEN, APPID, now, &good);
    // One character of the ciphertext changed: the signature no longer covers it.
    // The body is mostly ciphertext: the first letter or digit from its middle on is a base64
    // character of it (the middle itself may be '+' or '/', which the random key sometimes gives).
    let middle = tampered.body.len() / 2;
    let at = middle
        + tampered.body.as_bytes()[middle..]
            .iter()
            .position(u8::is_ascii_alphanumeric)
            .expect("the ciphertext holds letters");
    let flipped = if tampered.body.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.body.replace_range(at..=at, flipped);
    let entity = "<!DOCTYPE xml [<!ENTITY secret SYSTEM \"file:///etc/passwd\">]>".to_owned()
        + &authorization_xml("BAD-PUSH-1&secret;", now);
    let cases: Vec<(&str, SealedPush, u16, &str)> = vec![
        (
            "a forged signature (another Token)",
            seal("not-the-token", APPID, now, &good),
            403,
            "push_refused",
        ),
        (
            "a replay an hour old",
            seal(
                TOKEN,
                APPID,
                now - 3600,
                &authorization_xml("BAD-PUSH-1", now - 3600),
            ),
            403,
            "push_refused",
        ),
        (
            "another account's push",
            seal(TOKEN, "wxsomebodyelse01", now, &good),
            403,
            "push_refused",
        ),
        ("a tampered ciphertext", tampered, 403, "push_refused"),
        (
            "an external entity",
            seal(TOKEN, APPID, now, &entity),
            400,
            "push_refused",
        ),
        (
            "not XML inside",
            seal(TOKEN, APPID, now, "{\"SuccOrderId\":\"BAD-PUSH-1\"}"),
            400,
            "push_refused",
        ),
    ];
    for (what, push, status, code) in cases {
        let (got, text) = post_push(&app, &push.query, push.body).await;
        assert_eq!(
            (got, error_code(&text).as_str()),
            (status, code),
            "{what}: {text}"
        );
    }
    // A well-signed envelope that is not XML, and one far over the callback's limit.
    let good_push = seal(TOKEN, APPID, now, &good);
    let (status, text) = post_push(&app, &good_push.query, "<xml><ToUserName>".to_owned()).await;
    assert_eq!(status, 400, "{text}");
    let (status, text) = post_push(&app, &good_push.query, "x".repeat(200 * 1024)).await;
    assert_eq!(status, 413, "{text}");

    // Nothing of the above was applied: the other order, authorized by its buyer, is worked
    // (and a well-sealed copy of its push is taken), while the first still waits for its buyer.
    app.authorize(
        "BAD-PUSH-2",
        "深圳市腾讯计算机系统有限公司",
        Some("91440300708461136T"),
        false,
    )
    .await;
    app.wait_for("BAD-PUSH-2", "delivered").await;
    let valid = seal(TOKEN, APPID, now, &authorization_xml("BAD-PUSH-2", now));
    let (status, text) = post_push(&app, &valid.query, valid.body).await;
    assert_eq!((status, text.as_str()), (200, "success"));
    let (_, first) = app.api("GET", "/v1/orders/BAD-PUSH-1", None).await;
    assert_eq!(first["state"], "awaiting_authorization", "{first:#}");
    assert!(first["buyer"].is_null(), "{first:#}");
}

crate::on_both_databases!(
    forged_replayed_foreign_and_hostile_pushes_change_nothing,
    super::hostile_pushes_change_nothing
);

/// What is tried, the method and path, the body, the status and error code expected.
type ApiCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<Value>,
    u16,
    &'static str,
);

pub async fn bad_requests_are_refused_naming_the_field(kind: Db) {
    let app = spawn_app(kind, "badinput_api").await;
    let (status, body) = app
        .api(
            "POST",
            "/v1/orders",
            Some(order_body("official_account", "BAD-API-1")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let before = app.api("GET", "/v1/orders/BAD-API-1", None).await.1;

    let with_name = |name: &str| {
        let mut body = order_body("official_account", "BAD-API-2");
        body["lines"][0]["name"] = json!(name);
        body
    };
    let cases: Vec<ApiCase> = vec![
        (
            "a negative limit",
            "GET",
            "/v1/orders?limit=-1",
            None,
            422,
            "invalid",
        ),
        (
            "an unknown state",
            "GET",
            "/v1/orders?state=lost",
            None,
            422,
            "invalid",
        ),
        (
            "an empty reject reason",
            "POST",
            "/v1/orders/BAD-API-1/reject",
            Some(json!({ "reason": "   " })),
            422,
            "invalid",
        ),
        (
            "a 100,000-character reject reason",
            "POST",
            "/v1/orders/BAD-API-1/reject",
            Some(json!({ "reason": "长".repeat(100_000) })),
            422,
            "invalid",
        ),
        (
            "a javascript: link for the buyer",
            "POST",
            "/v1/orders/BAD-API-1/reject",
            Some(json!({ "reason": "抬头有误", "url": "javascript:alert(1)" })),
            422,
            "invalid",
        ),
        (
            "an item name of zero-width characters",
            "POST",
            "/v1/orders",
            Some(with_name("\u{200b}\u{200b}")),
            422,
            "invalid",
        ),
        (
            "an item name with a bidi override",
            "POST",
            "/v1/orders",
            Some(with_name("餐饮\u{202e}服务")),
            422,
            "invalid",
        ),
        (
            "an order id with a slash",
            "GET",
            "/v1/orders/a%2Fb",
            None,
            422,
            "invalid",
        ),
        (
            "no such route",
            "GET",
            "/v1/nothing",
            None,
            404,
            "not_found",
        ),
        (
            "a method the route does not take",
            "DELETE",
            "/v1/orders",
            None,
            405,
            "method_not_allowed",
        ),
    ];
    for (what, method, path, body, status, code) in cases {
        let (got, answer) = app.api(method, path, body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {answer}"
        );
        assert!(answer["error"]["message"].is_string(), "{what}: {answer}");
    }
    // Malformed JSON, with the content type a client would send.
    let response = app
        .http
        .post(format!("{}/v1/orders", app.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"order_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "invalid", "{answer}");
    // None of it changed anything.
    assert_eq!(app.api("GET", "/v1/orders/BAD-API-1", None).await.1, before);
    assert_eq!(app.api("GET", "/v1/orders/BAD-API-2", None).await.0, 404);
}

crate::on_both_databases!(
    bad_requests_are_refused_naming_the_field_and_change_nothing,
    super::bad_requests_are_refused_naming_the_field
);
