//! The operator console through the router: sign-in, the session cookie, the redirect without
//! a session, CSRF refusals, absolute and idle expiry, sign-out, escaping of what users typed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fapiao_app::http::console::{ConsoleSettings, Operator};
use fapiao_app::{AppState, HttpSettings, router};
use fapiao_domain::Secret;
use fapiao_domain::ports::{MockPushDecoder, MockWeixinPlatformApi};
use fapiao_domain::testing::FakeIssuerMode;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::harness::*;

const KEY: &str = "console-test-key-0123456789";

/// The console over the fakes; `auth_urls` orders are started through the merchant mock.
fn app(secure_cookie: bool, auth_urls: usize) -> (axum::Router, Harness) {
    let h = harness(
        merchant(auth_urls, appid("oa"), false),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let mut ports = h.service_ports();
    ports.decoder = Arc::new(MockPushDecoder::new());
    let state = AppState::new(
        settings(),
        HttpSettings {
            api_key: Secret::new(KEY),
            public_base_url: "https://fapiao.test".into(),
        },
        ports,
        None,
        Arc::new(Notify::new()),
    )
    .with_console(Some(ConsoleSettings {
        session_minutes: 480,
        idle_minutes: 60,
        secure_cookie,
        operators: vec![Operator {
            name: "alice".into(),
            password_hash: Secret::new(alice_hash()),
        }],
    }));
    (router(state), h)
}

/// The argon2 hash (PHC form) of alice's password, `correct horse battery`.
fn alice_hash() -> String {
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::from_b64("YWxpY2VzYWx0YWxpY2U").unwrap();
    argon2::Argon2::default()
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string()
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

async fn send(app: &axum::Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    Answer {
        status,
        location,
        cookies,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(uri: &str, session: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri).header(header::HOST, "fapiao.test");
    if let Some(token) = session {
        request = request.header(header::COOKIE, format!("fapiao_console={token}"));
    }
    request.body(Body::empty()).unwrap()
}

fn post(uri: &str, session: Option<&str>, form: &str) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::HOST, "fapiao.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(token) = session {
        request = request.header(header::COOKIE, format!("fapiao_console={token}"));
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

/// Signs in and answers the session token from the cookie.
async fn sign_in(app: &axum::Router) -> String {
    let answer = send(app, post("/console/login", None, &format!("api_key={KEY}"))).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location.as_deref(), Some("/console"));
    let cookie = answer
        .cookies
        .iter()
        .find(|c| c.starts_with("fapiao_console="))
        .expect("a session cookie");
    cookie
        .trim_start_matches("fapiao_console=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The CSRF token of a signed-in page's forms.
fn csrf_of(page: &str) -> String {
    let start = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[start..start + 64].to_owned()
}

#[tokio::test]
async fn without_a_session_every_page_redirects_to_the_sign_in() {
    let (app, _) = app(true, 0);
    for uri in [
        "/console",
        "/console/orders",
        "/console/orders/X1",
        "/console/orders/X1/pdf/blue",
        "/console/setup",
        "/console/events",
    ] {
        let answer = send(&app, get(uri, None)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(answer.location.as_deref(), Some("/console/login"), "{uri}");
        // A forged or unknown token is no session either.
        let answer = send(&app, get(uri, Some(&"a".repeat(64)))).await;
        assert_eq!(answer.location.as_deref(), Some("/console/login"), "{uri}");
    }
    let answer = send(&app, post("/console/orders/X1/retry", None, "csrf=x")).await;
    assert_eq!(answer.location.as_deref(), Some("/console/login"));
    let slash = send(&app, get("/console/", None)).await;
    assert_eq!(slash.location.as_deref(), Some("/console"));
    let login = send(&app, get("/console/login", None)).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"name="api_key""#));
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_secure_cookie_and_stores_only_its_hash() {
    let (app, h) = app(true, 0);
    let wrong = send(&app, post("/console/login", None, "api_key=nope")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.cookies.is_empty());
    let answer = send(
        &app,
        post("/console/login", None, &format!("api_key={KEY}")),
    )
    .await;
    let cookie = answer
        .cookies
        .iter()
        .find(|c| c.starts_with("fapiao_console="))
        .unwrap();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Secure",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    let token = cookie
        .trim_start_matches("fapiao_console=")
        .split(';')
        .next()
        .unwrap();
    assert_eq!(token.len(), 64);
    let sessions = &h.ports.console_sessions;
    assert!(
        sessions.get(token).await.unwrap().is_none(),
        "the token itself is not a key"
    );
    let hash = fapiao_app::http::console::session::token_hash(token);
    let stored = sessions.get(&hash).await.unwrap().expect("stored by hash");
    assert!(!format!("{stored:?}").contains(stored.csrf_token.expose()));
    let page = send(&app, get("/console/orders", Some(token))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // Without `secure_cookie` (a plain-HTTP sandbox on another host) the cookie lacks Secure.
    let (plain, _) = self::app(false, 0);
    let answer = send(
        &plain,
        post("/console/login", None, &format!("api_key={KEY}")),
    )
    .await;
    assert!(answer.cookies.iter().all(|c| !c.contains("Secure")));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_site_is_refused() {
    let (app, h) = app(true, 1);
    h.service
        .start(start_request(
            fapiao_domain::scenario::Scenario::OfficialAccount,
            "C1",
        ))
        .await
        .unwrap();
    let token = sign_in(&app).await;
    let page = send(&app, get("/console/orders/C1/reject", Some(&token))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = csrf_of(&page.body);

    for form in [
        "reason=no",
        "reason=no&csrf=",
        &format!("reason=no&csrf={}", "0".repeat(64)),
    ] {
        let answer = send(&app, post("/console/orders/C1/reject", Some(&token), form)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{form}");
    }
    let mut foreign = post(
        "/console/orders/C1/reject",
        Some(&token),
        &format!("reason=no&csrf={csrf}"),
    );
    foreign
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.test".parse().unwrap());
    assert_eq!(send(&app, foreign).await.status, StatusCode::FORBIDDEN);
    // Sign-out is a form too.
    let answer = send(&app, post("/console/logout", Some(&token), "")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(h.order("C1").await.state().code(), "awaiting_authorization");

    // With the token the reason reaches the order, and the page shows it escaped.
    let reason = r#"<script>alert("x")</script>"#;
    let form = format!(
        "reason={}&csrf={csrf}",
        form_urlencoded::byte_serialize(reason.as_bytes()).collect::<String>()
    );
    let mut same_site = post("/console/orders/C1/reject", Some(&token), &form);
    same_site
        .headers_mut()
        .insert(header::ORIGIN, "https://fapiao.test".parse().unwrap());
    let answer = send(&app, same_site).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(
        answer.location.as_deref(),
        Some("/console/orders/C1?done=reject")
    );
    assert_eq!(h.order("C1").await.rejection(), Some(reason));
    let detail = send(&app, get("/console/orders/C1", Some(&token))).await;
    assert!(!detail.body.contains("<script>"), "{}", detail.body);
    assert!(
        detail
            .body
            .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    );
    // And the search box echoes what was typed, escaped.
    let list = send(&app, get("/console/orders?q=%22%3E%3Cb%3Ex", Some(&token))).await;
    assert!(
        list.body.contains(r#"value="&quot;&gt;&lt;b&gt;x""#),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<b>x"));
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_end_and_sign_out_deletes_them() {
    let (app, h) = app(true, 0);
    let token = sign_in(&app).await;
    let minute = 60_000;
    // Idle for 59 minutes, then busy every 59 minutes until the absolute end (480 minutes).
    for _ in 0..8 {
        h.clock.advance_millis(59 * minute);
        let page = send(&app, get("/console/orders", Some(&token))).await;
        assert_eq!(page.status, StatusCode::OK);
    }
    h.clock.advance_millis(9 * minute);
    let page = send(&app, get("/console/orders", Some(&token))).await;
    assert_eq!(
        page.location.as_deref(),
        Some("/console/login"),
        "past 480 minutes"
    );
    assert!(
        page.cookies
            .iter()
            .any(|c| c.starts_with("fapiao_console=;"))
    );

    let token = sign_in(&app).await;
    h.clock.advance_millis(61 * minute);
    let page = send(&app, get("/console/orders", Some(&token))).await;
    assert_eq!(
        page.location.as_deref(),
        Some("/console/login"),
        "idle 61 minutes"
    );

    let token = sign_in(&app).await;
    let page = send(&app, get("/console/orders", Some(&token))).await;
    let csrf = csrf_of(&page.body);
    let answer = send(
        &app,
        post("/console/logout", Some(&token), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(answer.location.as_deref(), Some("/console/login"));
    let hash = fapiao_app::http::console::session::token_hash(&token);
    assert!(h.ports.console_sessions.get(&hash).await.unwrap().is_none());
    let page = send(&app, get("/console/orders", Some(&token))).await;
    assert_eq!(page.location.as_deref(), Some("/console/login"));
}

#[tokio::test]
async fn the_language_comes_from_the_query_then_the_cookie_then_accept_language() {
    let (app, _) = app(true, 0);
    let english = send(
        &app,
        Request::get("/console/login")
            .header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(english.body.contains("Sign in"), "{}", english.body);
    let chinese = send(&app, get("/console/login?lang=zh", None)).await;
    assert!(chinese.body.contains("登录"));
    let cookie = chinese
        .cookies
        .iter()
        .find(|c| c.starts_with("fapiao_console_lang=zh"))
        .expect("the language is remembered");
    assert!(cookie.contains("Path=/console"));
    let remembered = send(
        &app,
        Request::get("/console/login")
            .header(header::ACCEPT_LANGUAGE, "en-US")
            .header(header::COOKIE, "fapiao_console_lang=zh")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(remembered.body.contains(r#"<html lang="zh-CN">"#));
}

#[tokio::test]
async fn the_console_is_not_served_unless_the_host_enables_it() {
    let h = harness(
        merchant(0, appid("oa"), false),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let state = AppState::new(
        settings(),
        HttpSettings {
            api_key: Secret::new(KEY),
            public_base_url: "https://fapiao.test".into(),
        },
        h.service_ports(),
        None,
        Arc::new(Notify::new()),
    );
    let app = router(state);
    assert_eq!(
        send(&app, get("/console", None)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &app,
            post("/console/login", None, &format!("api_key={KEY}"))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_unmatched_push_is_listed_and_replayed_with_the_csrf_token() {
    use fapiao_domain::ids::{CardCode, OpenId};
    use fapiao_domain::weixin::{InvoiceStatusEvent, ReimburseStatus, WeixinEvent};
    let (app, h) = app(true, 0);
    h.push(WeixinEvent::InvoiceStatus(InvoiceStatusEvent {
        openid: OpenId::parse("oBuyer0001").unwrap(),
        create_time: fapiao_domain::Timestamp::from_unix_seconds(1_780_000_100),
        status: ReimburseStatus::Lock,
        card_id: card_id(),
        code: CardCode::parse("689999999999").unwrap(),
    }))
    .await;
    let set_aside = h.service.unmatched_events(None, 10).await.unwrap();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let id = set_aside[0].item.id;

    let token = sign_in(&app).await;
    let page = send(&app, get("/console/events?lang=en", Some(&token))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("689999999999"), "{}", page.body);
    let confirm = send(
        &app,
        get(&format!("/console/events/{id}/replay"), Some(&token)),
    )
    .await;
    let csrf = csrf_of(&confirm.body);
    let refused = send(
        &app,
        post(&format!("/console/events/{id}/replay"), Some(&token), ""),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let replayed = send(
        &app,
        post(
            &format!("/console/events/{id}/replay"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER, "{}", replayed.body);
    assert!(
        replayed
            .location
            .as_deref()
            .unwrap()
            .starts_with("/console/events?outcome="),
        "{:?}",
        replayed.location
    );
    // Still no order holds that card: it stays set aside.
    assert_eq!(h.service.unmatched_events(None, 10).await.unwrap().len(), 1);
    let bad = send(&app, get("/console/events/abc/replay", Some(&token))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_operator_signs_in_with_a_name_and_password_and_is_named_on_every_page() {
    let (app, h) = app(true, 0);
    let form = |name: &str, password: &str| {
        format!(
            "operator={name}&api_key={}",
            form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
        )
    };
    for (name, password) in [
        ("alice", "wrong horse"),
        ("mallory", "correct horse battery"),
        ("alice", KEY),
    ] {
        let answer = send(&app, post("/console/login", None, &form(name, password))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(answer.cookies.is_empty());
    }
    let login = send(&app, get("/console/login", None)).await;
    assert!(login.body.contains(r#"name="operator""#));
    let answer = send(
        &app,
        post(
            "/console/login",
            None,
            &form("alice", "correct horse battery"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let token = answer
        .cookies
        .iter()
        .find_map(|c| c.strip_prefix("fapiao_console="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let hash = fapiao_app::http::console::session::token_hash(&token);
    let stored = h.ports.console_sessions.get(&hash).await.unwrap().unwrap();
    assert_eq!(stored.operator, "alice");
    let page = send(&app, get("/console/orders?lang=en", Some(&token))).await;
    assert!(page.body.contains("Signed in as alice"), "{}", page.body);
    // The API key without a name still signs in, as `api_key`.
    let key_token = sign_in(&app).await;
    let page = send(&app, get("/console/orders?lang=en", Some(&key_token))).await;
    assert!(page.body.contains("Signed in as api_key"));
}
