#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fapiao_app::{AppState, HttpSettings, router};
use fapiao_domain::Secret;
use fapiao_domain::ports::{
    MockPushDecoder, MockWeixinMerchantApi, MockWeixinPlatformApi, PushError,
};
use fapiao_domain::testing::FakeIssuerMode;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::harness::*;

const KEY: &str = "test-api-key-0123456789";

fn app(merchant: MockWeixinMerchantApi, decoder: MockPushDecoder) -> (axum::Router, Harness) {
    let h = harness(
        merchant,
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let mut ports = h.service_ports();
    ports.decoder = Arc::new(decoder);
    let state = AppState::new(
        settings(),
        HttpSettings {
            api_key: Secret::new(KEY),
            public_base_url: "http://fapiao.test".into(),
        },
        ports,
        Some(Arc::new(|| "fapiao_up 1\n".to_owned())),
        Arc::new(Notify::new()),
    );
    (router(state), h)
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn order_body(scenario: &str, order_id: &str) -> Value {
    json!({
        "scenario": scenario,
        "order_id": order_id,
        "seller": "store-01",
        "lines": [{ "name": "餐费", "tax_code": "3070401000000000000", "quantity": "1", "unit_price": "100.00", "tax_rate": "0.06" }],
        "redirect_url": "https://shop.invalid/done"
    })
}

#[tokio::test]
async fn the_api_needs_the_key() {
    let (app, _) = app(MockWeixinMerchantApi::new(), MockPushDecoder::new());
    let (status, body) = call(&app, "GET", "/v1/orders", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&body)["error"]["code"], "unauthorized");
    let (status, _) = call(
        &app,
        "GET",
        "/v1/orders",
        None,
        Some("wrong-key-0123456789x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, "GET", "/v1/orders", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, "GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn create_order_returns_the_redirect_and_bad_input_names_the_field() {
    let (app, h) = app(merchant(1, appid("oa"), false), MockPushDecoder::new());
    let (status, body) = call(
        &app,
        "POST",
        "/v1/orders",
        Some(order_body("official_account", "H1")),
        Some(KEY),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let view = json_of(&body);
    assert_eq!(view["action"]["type"], "redirect");
    assert_eq!(view["order"]["state"], "awaiting_authorization");
    assert_eq!(view["order"]["money"], "100.00");
    assert_eq!(view["order"]["invoice_lines"]["total_in_words"], "壹佰圆整");

    let mut bad = order_body("official_account", "H2");
    bad["lines"][0]["tax_rate"] = json!("0.07");
    let (status, body) = call(&app, "POST", "/v1/orders", Some(bad), Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = json_of(&body);
    assert_eq!(error["error"]["field"], "lines[0].tax_rate", "{error}");
    let (status, _) = call(&app, "GET", "/v1/orders/H2", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    let (status, body) = call(
        &app,
        "POST",
        "/v1/orders",
        Some(json!({"scenario": "fax"})),
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["error"]["field"], "body");
    drop(h);
}

#[tokio::test]
async fn qr_order_prints_a_stable_code_that_redirects() {
    let (app, _) = app(merchant(1, appid("oa"), false), MockPushDecoder::new());
    let mut body = order_body("qr_code", "Q1");
    body.as_object_mut().unwrap().remove("redirect_url");
    let (status, body) = call(&app, "POST", "/v1/orders", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::CREATED);
    let view = json_of(&body);
    let url = view["action"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://fapiao.test/q/"), "{url}");
    let (status, png) = call(&app, "GET", "/v1/orders/Q1/qr.png", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(png.starts_with(b"\x89PNG"));
    let (status, svg) = call(&app, "GET", "/v1/orders/Q1/qr.svg", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    let path = url.trim_start_matches("http://fapiao.test");
    let response = app
        .clone()
        .oneshot(Request::builder().uri(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.contains("order_id=Q1"), "{location}");
}

#[tokio::test]
async fn preview_computes_lines_and_words() {
    let (app, _) = app(MockWeixinMerchantApi::new(), MockPushDecoder::new());
    let body = json!({ "lines": [
        { "kind": "discounted", "name": "甲", "tax_code": "1030201010000000000", "amount": "600.00", "price_basis": "tax_exclusive", "tax_rate": "0.13" },
        { "kind": "discount", "name": "甲", "tax_code": "1030201010000000000", "amount": "-60.00", "price_basis": "tax_exclusive", "tax_rate": "0.13" }
    ]});
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let view = json_of(&body);
    assert_eq!(view["amount_excl"], "540.00");
    assert_eq!(view["tax"], "70.20");
    assert_eq!(view["total"], "610.20");
    assert_eq!(view["total_in_words"], "陆佰壹拾圆贰角整");
    // 糕点's 简称 comes from the embedded table: no tax_short_name needed.
    assert_eq!(view["lines"][0]["name"], "*焙烤食品*甲");
}

#[tokio::test]
async fn lines_follow_the_tax_category_table() {
    let (app, _) = app(MockWeixinMerchantApi::new(), MockPushDecoder::new());
    let preview = |code: &str, rate: &str, short_name: Option<&str>| {
        json!({ "lines": [
            { "name": "甲", "tax_code": code, "tax_short_name": short_name, "amount": "10.00", "tax_rate": rate }
        ]})
    };
    let refused = |body: &[u8]| {
        let view = json_of(body);
        (
            view["error"]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            view["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    // A summary row (汇总项).
    let body = preview("1030201000000000000", "0.13", None);
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (field, message) = refused(&body);
    assert_eq!(field, "lines[0].tax_code");
    assert!(message.contains("summary row (汇总项)"), "{message}");
    // A 13 % good at 6 %: both rates named.
    let body = preview("1030201010000000000", "0.06", None);
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (field, message) = refused(&body);
    assert_eq!(field, "lines[0].tax_rate");
    assert_eq!(
        message,
        "lines[0].tax_rate: 6% is not a rate of 1030201010000000000 (糕点): table 2026.6.1 allows 13%"
    );
    // The caller's 简称 wins, and is checked.
    let body = preview("1030201010000000000", "0.13", Some("点心"));
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["lines"][0]["name"], "*点心*甲");
    let body = preview("1030201010000000000", "0.13", Some("*点心*"));
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused(&body).0, "lines[0].tax_short_name");
    // A code the table lacks needs its 简称.
    let body = preview("1030201010000000077", "0.13", None);
    let (status, body) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused(&body).0, "lines[0].tax_short_name");
    // Exempt and the levy rates pass on a taxable code.
    for rate in ["exempt", "0.03", "0.01"] {
        let body = preview("1030201010000000000", rate, None);
        let (status, _) = call(&app, "POST", "/v1/invoices/preview", Some(body), Some(KEY)).await;
        assert_eq!(status, StatusCode::OK, "{rate}");
    }
}

#[tokio::test]
async fn tax_categories_are_looked_up_and_searched() {
    let (app, _) = app(MockWeixinMerchantApi::new(), MockPushDecoder::new());
    let (status, body) = call(
        &app,
        "GET",
        "/v1/tax-categories/1030201010000000000",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let view = json_of(&body);
    assert_eq!(view["table"]["version"], "2026.6.1");
    assert_eq!(view["table"]["effective_from"], "2026-06-01");
    assert_eq!(view["table"]["codes"], 4098);
    assert_eq!(
        view["category"],
        json!({
            "code": "1030201010000000000", "name": "糕点", "short_name": "焙烤食品",
            "rates": ["13%"], "summary": false, "parent": "1030201000000000000"
        })
    );
    let (status, body) = call(
        &app,
        "GET",
        "/v1/tax-categories/3070401000000000000?date=2026-12-07",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["category"]["short_name"], "生产生活服务");
    let (status, _) = call(
        &app,
        "GET",
        "/v1/tax-categories/1030201010000000077",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(&app, "GET", "/v1/tax-categories/12345", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["error"]["field"], "code");
    let (status, body) = call(
        &app,
        "GET",
        "/v1/tax-categories?q=%E7%B3%95%E7%82%B9&limit=5",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let view = json_of(&body);
    assert_eq!(view["q"], "糕点");
    assert_eq!(view["limit"], 5);
    let codes: Vec<&str> = view["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"1030201010000000000"), "{codes:?}");
    let (status, body) = call(
        &app,
        "GET",
        "/v1/tax-categories?q=30704&offset=1&limit=1",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let view = json_of(&body);
    assert!(view["total"].as_u64().unwrap() >= 2);
    assert_eq!(view["categories"][0]["code"], "3070401000000000000");
    let (status, body) = call(&app, "GET", "/v1/tax-categories?limit=0", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["error"]["field"], "limit");
    let (status, body) = call(
        &app,
        "GET",
        "/v1/tax-categories?date=2026-02-30",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["error"]["field"], "date");
    let (status, _) = call(&app, "GET", "/v1/tax-categories?q=x", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pushes_are_stored_once_then_acknowledged_and_forgeries_refused() {
    let mut decoder = MockPushDecoder::new();
    // The handler hands the raw query string over unchanged; its parameters are the adapter's.
    decoder.expect_decode().returning(|query, _, _| {
        if query == "a=1&b=2&sig=good" {
            Ok(authorization("P1", true, None, 1_780_000_010))
        } else {
            Err(PushError::BadSignature)
        }
    });
    decoder.expect_verify_url().returning(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("echo="))
            .map(str::to_owned)
            .ok_or(PushError::Missing("echo"))
    });
    let (app, h) = app(MockWeixinMerchantApi::new(), decoder);
    let push = |sig: &'static str| {
        let app = app.clone();
        async move {
            let request = Request::builder()
                .method("POST")
                .uri(format!("/weixin/callback?a=1&b=2&sig={sig}"))
                .body(Body::from("<xml/>"))
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            (
                status,
                axum::body::to_bytes(response.into_body(), 1024)
                    .await
                    .unwrap(),
            )
        }
    };
    let (status, body) = push("good").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"success"[..]));
    let (status, _) = push("good").await;
    assert_eq!(status, StatusCode::OK, "a retried push is acknowledged");
    assert_eq!(h.inbox.entries().len(), 1, "and stored once");
    let (status, _) = push("forged").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h.inbox.entries().len(), 1);

    let (status, body) = call(
        &app,
        "GET",
        "/weixin/callback?s=1&echo=4375120948345356249",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).into_owned()),
        (StatusCode::OK, "4375120948345356249".to_owned())
    );

    let big = Request::builder()
        .method("POST")
        .uri("/weixin/callback?a=1&b=2&sig=good")
        .body(Body::from(vec![b'x'; 70 * 1024]))
        .unwrap();
    assert_eq!(
        app.clone().oneshot(big).await.unwrap().status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn openapi_lists_every_route_and_metrics_render() {
    let (app, _) = app(MockWeixinMerchantApi::new(), MockPushDecoder::new());
    let (status, body) = call(&app, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let doc = json_of(&body);
    for path in [
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/reject",
        "/v1/orders/{order_id}/retry",
        "/v1/orders/{order_id}/reverse",
        "/v1/orders/{order_id}/pdf",
        "/v1/orders/{order_id}/qr.png",
        "/v1/orders/{order_id}/qr.svg",
        "/v1/invoices/preview",
        "/v1/setup",
        "/v1/setup/doctor",
        "/q/{token}",
        "/weixin/callback",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (status, body) = call(&app, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("fapiao_up 1"));
    let (status, _) = call(&app, "GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_order_being_retried_shows_its_step_attempts_last_error_and_next_attempt() {
    use fapiao_domain::weixin::{AuthUrl, WeixinError};

    let mut merchant = MockWeixinMerchantApi::new();
    merchant
        .expect_wx_card_ticket()
        .returning(|_| Ok(Secret::new("ticket-1")));
    merchant.expect_auth_url().returning(|_, request| {
        Ok(AuthUrl {
            url: format!("https://sandbox.invalid/auth?order_id={}", request.order_id),
            appid: None,
        })
    });
    merchant.expect_auth_data().returning(|_, _| {
        Err(WeixinError::Api {
            errcode: -1,
            errmsg: "system error".to_owned(),
        })
    });
    let (app, h) = app(merchant, MockPushDecoder::new());
    let (status, _) = call(
        &app,
        "POST",
        "/v1/orders",
        Some(order_body("official_account", "R1")),
        Some(KEY),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = call(&app, "GET", "/v1/orders/R1", None, Some(KEY)).await;
    let view = json_of(&body);
    assert_eq!(view["state"], "awaiting_authorization");
    assert_eq!(view["step"], Value::Null, "nothing queued: {view}");

    h.push(authorization("R1", true, None, 1_780_000_010)).await;
    let (_, body) = call(&app, "GET", "/v1/orders/R1", None, Some(KEY)).await;
    assert_eq!(
        json_of(&body)["step"],
        json!({
            "command": "fetch_auth_data",
            "attempts": 0,
            "last_error": null,
            "next_attempt_at": h.clock_now().to_string(),
        })
    );

    // getauthdata fails twice with -1: the job is retried with backoff.
    for _ in 0..2 {
        let due = h.orders.live_jobs()[0].run_at;
        h.clock
            .advance_millis((due.millis() - h.clock_now().millis()).max(0));
        h.service
            .run_due_jobs("worker-1", 16, 60_000)
            .await
            .unwrap();
    }
    let next = h.orders.live_jobs()[0].run_at;
    assert!(next > h.clock_now(), "the next attempt waits");
    let (status, body) = call(&app, "GET", "/v1/orders/R1", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let view = json_of(&body);
    assert_eq!(view["state"], "authorized");
    assert_eq!(
        view["step"],
        json!({
            "command": "fetch_auth_data",
            "attempts": 2,
            "last_error": "weixin errcode -1: system error",
            "next_attempt_at": next.to_string(),
        })
    );
}
