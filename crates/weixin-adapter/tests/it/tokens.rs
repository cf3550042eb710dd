//! Token lifecycle against the mock: refresh-and-retry-once, single flight, transient retries,
//! transport errors that never show the token.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::weixin::ErrorClass;
use fapiao_weixin::wire::{GetContactRequest, InsertCardRequest};
use fapiao_weixin::{CallError, ReqwestWeixinClient, RetryPolicy};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    APPID, MINI_APPID, TOKEN, appid, client, err, mini_appid, mount_token, ok, token_answer, weixin,
};

fn get_contact(token: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/card/invoice/setbizattr"))
        .and(query_param("action", "get_contact"))
        .and(query_param("access_token", token))
}

/// A stable-token endpoint answering `first` once, then `second`.
async fn mount_rotating_token(server: &MockServer, first: &str, second: &str, second_times: u64) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(token_answer(first))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(token_answer(second))
        .with_priority(2)
        .expect(second_times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn token_error_refreshes_once_and_retries_once() {
    for errcode in [40001, 40014, 42001, 41001] {
        let server = MockServer::start().await;
        mount_rotating_token(&server, "T1", "T2", 1).await;
        get_contact("T1")
            .respond_with(err(errcode, "invalid credential"))
            .expect(1)
            .mount(&server)
            .await;
        get_contact("T2")
            .respond_with(ok(json!({"contact": {"phone": "1", "time_out": 2}})))
            .expect(1)
            .mount(&server)
            .await;
        let got = client(&server)
            .execute(&appid(), &GetContactRequest {})
            .await;
        assert!(got.is_ok(), "errcode {errcode}: {got:?}");
    }
}

#[tokio::test]
async fn a_second_token_error_is_surfaced_without_looping() {
    let server = MockServer::start().await;
    mount_rotating_token(&server, "T1", "T2", 1).await;
    get_contact("T1")
        .respond_with(err(40001, "invalid credential"))
        .expect(1)
        .mount(&server)
        .await;
    get_contact("T2")
        .respond_with(err(40001, "invalid credential"))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect_err("refused");
    assert_eq!(error.errcode(), Some(40001));
    assert_eq!(error.class(), ErrorClass::Token);
}

#[tokio::test]
async fn unchanged_stable_token_is_force_refreshed() {
    let server = MockServer::start().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": false})))
        .respond_with(token_answer("T1"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(token_answer("T2"))
        .expect(1)
        .mount(&server)
        .await;
    get_contact("T1")
        .respond_with(err(40001, "not latest"))
        .expect(1)
        .mount(&server)
        .await;
    get_contact("T2")
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect("retried");
}

#[tokio::test]
async fn fifty_concurrent_calls_fetch_one_token() {
    let server = MockServer::start().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(token_answer(TOKEN).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    get_contact(TOKEN)
        .respond_with(ok(json!({})))
        .expect(50)
        .mount(&server)
        .await;
    let client = client(&server);
    let calls = (0..50).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.execute(&appid(), &GetContactRequest {}).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.expect("joined").expect("answered");
    }
}

#[tokio::test]
async fn concurrent_token_errors_refresh_once() {
    let server = MockServer::start().await;
    mount_rotating_token(&server, "T1", "T2", 1).await;
    get_contact("T1")
        .respond_with(err(40001, "not latest"))
        .mount(&server)
        .await;
    get_contact("T2")
        .respond_with(ok(json!({})))
        .expect(20)
        .mount(&server)
        .await;
    let client = client(&server);
    // Cache T1 first, then let 20 callers hit the refusal together.
    assert_eq!(
        client
            .access_token(&appid())
            .await
            .expect("t1")
            .expose_secret(),
        "T1"
    );
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.execute(&appid(), &GetContactRequest {}).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.expect("joined").expect("answered");
    }
}

#[tokio::test]
async fn accounts_have_their_own_tokens() {
    let (server, client) = weixin().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .and(body_partial_json(
            json!({"appid": MINI_APPID, "secret": "mini-s3cret"}),
        ))
        .respond_with(token_answer("MINI"))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client
            .access_token(&appid())
            .await
            .expect("oa")
            .expose_secret(),
        TOKEN
    );
    assert_eq!(
        client
            .access_token(&mini_appid())
            .await
            .expect("mini")
            .expose_secret(),
        "MINI"
    );
    let unknown = fapiao_domain::AppId::parse("wx9999999999999999").expect("appid");
    assert!(matches!(
        client.access_token(&unknown).await,
        Err(CallError::UnknownAccount(id)) if id == "wx9999999999999999"
    ));
    let _ = APPID;
}

#[tokio::test]
async fn system_busy_is_retried_with_backoff() {
    let (server, client) = weixin().await;
    get_contact(TOKEN)
        .respond_with(err(-1, "system error"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    get_contact(TOKEN)
        .respond_with(ok(json!({})))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect("third try");
}

#[tokio::test]
async fn retries_are_bounded() {
    let (server, client) = weixin().await;
    get_contact(TOKEN)
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    let error = client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect_err("unavailable");
    assert!(matches!(error, CallError::Http { status: 503 }));
    assert_eq!(error.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn quota_is_transient_but_not_retried_at_once() {
    let (server, client) = weixin().await;
    get_contact(TOKEN)
        .respond_with(err(45009, "reach max api daily quota limit"))
        .expect(1)
        .mount(&server)
        .await;
    let error = client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect_err("quota");
    assert_eq!(
        (error.errcode(), error.class()),
        (Some(45009), ErrorClass::Transient)
    );
}

#[tokio::test]
async fn non_idempotent_calls_are_not_repeated_after_a_5xx() {
    let (server, client) = weixin().await;
    Mock::given(path("/card/invoice/insert"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let error = client
        .execute(&appid(), &InsertCardRequest::default())
        .await
        .expect_err("bad gateway");
    assert!(matches!(error, CallError::Http { status: 502 }));
}

#[tokio::test]
async fn timeouts_are_transport_errors_without_the_token() {
    let (server, _) = weixin().await;
    get_contact(TOKEN)
        .respond_with(ok(json!({})).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let mut config = crate::support::config(&server);
    config.request_timeout = Duration::from_millis(200);
    config.retry = RetryPolicy::none();
    let client = ReqwestWeixinClient::new(config).expect("client");
    let error = client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect_err("timeout");
    assert!(
        matches!(
            error,
            CallError::Transport {
                maybe_sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    let shown = format!("{error} {error:?} {:?}", std::error::Error::source(&error));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("access_token"), "{shown}");
}

#[tokio::test]
async fn unreachable_weixin_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let server = MockServer::start().await;
    let mut config = crate::support::config(&server);
    config.base_url = format!("http://127.0.0.1:{port}");
    let client = Arc::new(ReqwestWeixinClient::new(config).expect("client"));
    let error = client
        .access_token(&appid())
        .await
        .expect_err("unreachable");
    assert!(
        matches!(
            error,
            CallError::Transport {
                maybe_sent: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(crate::support::SECRET));
}

#[tokio::test]
async fn tokens_are_shared_through_one_cache() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 1).await;
    let cache: Arc<dyn fapiao_domain::ports::TokenCache> =
        Arc::new(fapiao_weixin::InMemoryTokenCache::new());
    let clock: Arc<dyn fapiao_domain::ports::Clock> = Arc::new(fapiao_weixin::SystemClock);
    let a = ReqwestWeixinClient::with_cache(
        crate::support::config(&server),
        Arc::clone(&cache),
        Arc::clone(&clock),
    )
    .expect("a");
    let b =
        ReqwestWeixinClient::with_cache(crate::support::config(&server), cache, clock).expect("b");
    let id = appid();
    let (ta, tb) = tokio::join!(a.access_token(&id), b.access_token(&id));
    assert_eq!(ta.expect("a").expose_secret(), TOKEN);
    assert_eq!(tb.expect("b").expose_secret(), TOKEN);
}
