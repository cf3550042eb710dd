//! Tokens and tickets: the adapter's client against both token endpoints, and each token
//! errcode on a real call.

use fapiao_weixin::wire::{GetContactRequest, TicketRequest};
use fapiao_weixin::{Account, TokenEndpoint};
use serde_json::{Value, json};

use crate::support::{MINI, MINI_SECRET, OA, OA_SECRET, TestSandbox, appid, errcode};

#[tokio::test]
async fn both_token_endpoints_serve_the_adapter() {
    let sandbox = TestSandbox::start().await;
    for endpoint in [TokenEndpoint::Stable, TokenEndpoint::Classic] {
        let client = sandbox.client_with(|c| c.token_endpoint = endpoint);
        client.access_token(&appid(OA)).await.expect("token");
        client.access_token(&appid(MINI)).await.expect("token");
        let contact = client
            .execute(&appid(OA), &GetContactRequest {})
            .await
            .expect("get_contact");
        assert_eq!(contact.contact, None);
    }
    let answer: Value = sandbox
        .http
        .post(format!("{}/cgi-bin/stable_token", sandbox.base))
        .json(&json!({"grant_type": "client_credential", "appid": OA, "secret": OA_SECRET, "force_refresh": false}))
        .send()
        .await
        .expect("stable_token")
        .json()
        .await
        .expect("json");
    let left = answer["expires_in"].as_i64().expect("expires_in");
    assert!(left > 7000 && left <= 7200, "{answer}");
    assert!(answer.get("errcode").is_none());
}

#[tokio::test]
async fn token_endpoint_errors_reach_the_adapter() {
    let sandbox = TestSandbox::start().await;
    for endpoint in [TokenEndpoint::Stable, TokenEndpoint::Classic] {
        let wrong_secret = sandbox.client_with(|c| {
            c.token_endpoint = endpoint;
            c.accounts
                .push(Account::new(appid("wx0000000000000bad"), "x"));
            c.accounts[0].secret = "wrong".to_owned().into();
        });
        assert_eq!(
            errcode(wrong_secret.access_token(&appid(OA)).await).0,
            40125
        );
        assert_eq!(
            errcode(
                wrong_secret
                    .access_token(&appid("wx0000000000000bad"))
                    .await
            )
            .0,
            40013
        );
    }
    let missing = sandbox
        .control_get("/cgi-bin/token?grant_type=client_credential&secret=x")
        .await;
    assert_eq!(missing["errcode"], 41002);
    let grant = sandbox
        .control_get(&format!(
            "/cgi-bin/token?grant_type=password&appid={OA}&secret={OA_SECRET}"
        ))
        .await;
    assert_eq!(grant["errcode"], 40002);
}

async fn get_contact(sandbox: &TestSandbox, token: Option<&str>) -> i64 {
    let query = token.map_or(String::new(), |t| format!("&access_token={t}"));
    sandbox
        .http
        .post(format!(
            "{}/card/invoice/setbizattr?action=get_contact{query}",
            sandbox.base
        ))
        .body("{}")
        .send()
        .await
        .expect("call")
        .json::<Value>()
        .await
        .expect("json")["errcode"]
        .as_i64()
        .expect("errcode")
}

#[tokio::test]
async fn token_errcodes_on_calls() {
    let sandbox = TestSandbox::start().await;
    assert_eq!(get_contact(&sandbox, None).await, 41001);
    assert_eq!(get_contact(&sandbox, Some("not-a-token")).await, 40014);

    let first = sandbox.raw_token(OA, OA_SECRET).await;
    assert_eq!(get_contact(&sandbox, Some(&first)).await, 0);
    let second = sandbox.raw_token(OA, OA_SECRET).await;
    // The previous token works for 5 more minutes after a refresh, then 40001.
    assert_eq!(get_contact(&sandbox, Some(&first)).await, 0);
    sandbox.sandbox.advance_clock(299);
    assert_eq!(get_contact(&sandbox, Some(&first)).await, 0);
    sandbox.sandbox.advance_clock(2);
    assert_eq!(get_contact(&sandbox, Some(&first)).await, 40001);
    assert_eq!(get_contact(&sandbox, Some(&second)).await, 0);
    // 7200 s after it was issued the current token has expired: 42001.
    sandbox.sandbox.advance_clock(7200);
    assert_eq!(get_contact(&sandbox, Some(&second)).await, 42001);
}

#[tokio::test]
async fn the_adapter_recovers_from_token_invalidation() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    client
        .execute(&oa, &GetContactRequest {})
        .await
        .expect("first call");
    let old = sandbox.raw_token(MINI, MINI_SECRET).await;
    let invalidated = sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"invalidate_tokens": true}),
        )
        .await;
    assert!(invalidated["invalidated_tokens"].as_u64().expect("count") >= 2);
    assert_eq!(get_contact(&sandbox, Some(&old)).await, 40001);
    // The adapter's cached token is refused; it refreshes once and the call succeeds.
    client
        .execute(&oa, &GetContactRequest {})
        .await
        .expect("call after invalidation");
}

#[tokio::test]
async fn tickets() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let ticket = client
        .execute(&appid(OA), &TicketRequest::WX_CARD)
        .await
        .expect("ticket");
    assert_eq!(ticket.expires_in, 7200);
    let token = sandbox.raw_token(OA, OA_SECRET).await;
    let bad = sandbox
        .control_get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=nonsense"
        ))
        .await;
    assert_eq!(bad["errcode"], 40097);
    let unauthenticated = sandbox
        .control_get("/cgi-bin/ticket/getticket?type=wx_card")
        .await;
    assert_eq!(unauthenticated["errcode"], 41001);
}
