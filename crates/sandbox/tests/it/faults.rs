//! Fault injection: what the adapter sees, and that a seed reproduces the same faults.

use std::time::{Duration, Instant};

use fapiao_weixin::CallError;
use fapiao_weixin::wire::{GetAuthDataRequest, GetContactRequest};
use serde_json::{Value, json};

use crate::support::{
    OA, OA_SECRET, TestSandbox, appid, authorized_order, card_template, errcode, insert_request,
    personal, sample_pdf, setup,
};

/// The outcome of one raw getauthdata call: errcode, or the HTTP status when not 200.
async fn outcome(sandbox: &TestSandbox, token: &str) -> i64 {
    let response = sandbox
        .http
        .post(format!(
            "{}/card/invoice/getauthdata?access_token={token}",
            sandbox.base
        ))
        .body(r#"{"s_pappid":"","order_id":"x"}"#)
        .send()
        .await
        .expect("call");
    let status = response.status().as_u16();
    if status != 200 {
        return i64::from(status);
    }
    response.json::<Value>().await.expect("json")["errcode"]
        .as_i64()
        .expect("errcode")
}

async fn run(sandbox: &TestSandbox, token: &str, seed: u64) -> (Vec<i64>, Value) {
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({
                "seed": seed,
                "rules": [{
                    "endpoint": "getauthdata",
                    "system_error_rate": 0.2,
                    "quota_error_rate": 0.1,
                    "http_error_rate": 0.1,
                    "http_status": 502
                }]
            }),
        )
        .await;
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        outcomes.push(outcome(sandbox, token).await);
    }
    let injected = sandbox.control_get("/sandbox/control/faults").await["injected"].clone();
    (outcomes, injected)
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.raw_token(OA, OA_SECRET).await;
    let (first, first_log) = run(&sandbox, &token, 7).await;
    // 72031 is the call's own answer (empty s_pappid) when nothing is injected.
    assert!(
        first.contains(&72031)
            && first.contains(&-1)
            && first.contains(&45009)
            && first.contains(&502),
        "{first:?}"
    );
    let (second, second_log) = run(&sandbox, &token, 7).await;
    assert_eq!(first, second);
    assert_eq!(first_log, second_log);
    let (other, _) = run(&sandbox, &token, 8).await;
    assert_ne!(first, other);

    // A second sandbox with the same fault seed from its configuration agrees.
    let fresh = TestSandbox::with(|c| {
        c.faults.seed = Some(7);
        c.faults.rules = vec![fapiao_sandbox::FaultRule {
            endpoint: "getauthdata".to_owned(),
            system_error_rate: 0.2,
            quota_error_rate: 0.1,
            http_error_rate: 0.1,
            http_status: 502,
            ..fapiao_sandbox::FaultRule::default()
        }];
    })
    .await;
    let token = fresh.raw_token(OA, OA_SECRET).await;
    let mut again = Vec::new();
    for _ in 0..40 {
        again.push(outcome(&fresh, &token).await);
    }
    assert_eq!(first, again);
}

#[tokio::test]
async fn injected_errors_as_the_adapter_sees_them() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    client.access_token(&oa).await.expect("token");
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"script": [
                {"endpoint": "setbizattr", "fault": "system_error"},
                {"endpoint": "setbizattr.get_contact", "fault": "quota_exceeded"},
                {"endpoint": "*", "fault": "http_5xx", "http_status": 503}
            ]}),
        )
        .await;
    assert_eq!(
        errcode(client.execute(&oa, &GetContactRequest {}).await).0,
        -1
    );
    assert_eq!(
        errcode(client.execute(&oa, &GetContactRequest {}).await).0,
        45009
    );
    match client.execute(&oa, &GetContactRequest {}).await {
        Err(CallError::Http { status: 503 }) => {}
        other => panic!("expected http 503, got {other:?}"),
    }
    client
        .execute(&oa, &GetContactRequest {})
        .await
        .expect("the script is used up");
    // With its default retry policy the adapter rides over a single -1.
    let retrying = sandbox.client_with(|c| {
        c.retry = fapiao_weixin::RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
    });
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"script": [{"endpoint": "getauthdata", "fault": "system_error"}]}),
        )
        .await;
    let s_pappid = retrying.fetch_s_pappid(&oa).await.expect("seturl");
    retrying
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid,
                order_id: "x".to_owned(),
            },
        )
        .await
        .expect("retried past -1");
}

#[tokio::test]
async fn apply_then_timeout_leaves_the_caller_unsure() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    authorized_order(&sandbox, &client, &merchant, "unsure-1", personal("张三")).await;
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;

    let impatient = sandbox.client_with(|c| c.request_timeout = Duration::from_millis(300));
    impatient.access_token(&oa).await.expect("token");
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"script": [{"endpoint": "insert", "fault": "apply_then_timeout", "delay_ms": 1500}]}),
        )
        .await;
    let insert = insert_request(
        "unsure-1",
        &merchant.card_id,
        OA,
        &media,
        "24312000000000000081",
    );
    match impatient.execute(&oa, &insert).await {
        Err(CallError::Transport {
            maybe_sent: true, ..
        }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    // It was applied: the card exists, and inserting again is refused.
    let cards = sandbox.control_get("/sandbox/control/cards").await;
    assert_eq!(cards["cards"][0]["order_id"], "unsure-1");
    assert_eq!(errcode(client.execute(&oa, &insert).await).0, 72056);
}

#[tokio::test]
async fn apply_then_drop_closes_the_connection() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    client.access_token(&oa).await.expect("token");
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"rules": [{"endpoint": "platform.createcard", "apply_then_drop_rate": 1.0}]}),
        )
        .await;
    match client.execute(&oa, &card_template()).await {
        Err(CallError::Transport { .. } | CallError::Decode { .. }) => {}
        other => panic!("expected a dropped connection, got {other:?}"),
    }
    let faults = sandbox.control_get("/sandbox/control/faults").await;
    assert_eq!(faults["injected"][0]["fault"], "apply_then_drop");
    assert_eq!(faults["injected"][0]["endpoint"], "platform.createcard");
}

#[tokio::test]
async fn latency_is_added() {
    let sandbox = TestSandbox::with(|c| {
        c.faults.rules = vec![fapiao_sandbox::FaultRule {
            endpoint: "seturl".to_owned(),
            latency_ms: 250,
            ..fapiao_sandbox::FaultRule::default()
        }];
    })
    .await;
    let client = sandbox.client();
    let oa = appid(OA);
    client.access_token(&oa).await.expect("token");
    let started = Instant::now();
    client.fetch_s_pappid(&oa).await.expect("seturl");
    assert!(started.elapsed() >= Duration::from_millis(250));
    let config = sandbox.control_get("/sandbox/control/faults").await;
    assert_eq!(config["config"]["rules"][0]["latency_ms"], 250);
}

#[tokio::test]
async fn bad_fault_settings_are_refused() {
    let sandbox = TestSandbox::start().await;
    let (status, _) = sandbox
        .control_post(
            "/sandbox/control/faults",
            json!({"rules": [{"endpoint": "*", "system_error_rate": 0.8, "quota_error_rate": 0.8}]}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = sandbox
        .control_post(
            "/sandbox/control/faults",
            json!({"invalidate_tokens": true, "appid": "wx404"}),
        )
        .await;
    assert_eq!(status, 404);
}
