//! Event pushes: every mode verified by the adapter's receiver, and Weixin's retry rule.

use std::time::Duration;

use fapiao_domain::Timestamp;
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::event::{PushConfig, PushMode, PushReceiver};
use fapiao_weixin::wire::{PushEvent, PushQuery};
use serde_json::json;

use crate::support::{
    Behaviour, Callback, OA, TestSandbox, appid, authorized_order, insert_request, personal,
    sample_pdf, setup,
};

fn receiver(mode: PushMode) -> PushReceiver {
    let config = match mode {
        PushMode::Plain => PushConfig::plain("sandboxtoken", appid(OA)),
        mode => PushConfig::encrypted(
            "sandboxtoken",
            appid(OA),
            mode,
            KeyRing::new(
                AesKey::from_encoding_aes_key(fapiao_sandbox::config::DEFAULT_ENCODING_AES_KEY)
                    .expect("key"),
            ),
        ),
    };
    PushReceiver::new(config).expect("receiver")
}

#[tokio::test]
async fn every_mode_is_accepted_by_the_adapter() {
    for (mode, receiver_mode) in [
        ("plain", PushMode::Plain),
        ("compatible", PushMode::Compatible),
        ("safe", PushMode::Safe),
    ] {
        let sandbox = TestSandbox::start().await;
        let merchant_server = Callback::start(Behaviour::Succeed).await;
        sandbox.set_callback(OA, &merchant_server.url, mode).await;
        let client = sandbox.client();
        let merchant = setup(&client).await;
        authorized_order(&sandbox, &client, &merchant, "o-1", personal("张三")).await;

        // The reimburser locks the inserted card: update_invoice_status.
        let oa = appid(OA);
        let media = client
            .upload_pdf(&oa, &sample_pdf())
            .await
            .expect("setpdf")
            .s_media_id;
        let card = client
            .execute(
                &oa,
                &insert_request("o-1", &merchant.card_id, OA, &media, "24312000000000000071"),
            )
            .await
            .expect("insert");
        let outcome = sandbox
            .control_ok(
                "/sandbox/control/reimburse",
                json!({"card_id": merchant.card_id, "code": card.code, "status": "INVOICE_REIMBURSE_LOCK", "wait": true}),
            )
            .await;
        assert_eq!(outcome["card"]["status"], "INVOICE_REIMBURSE_LOCK");
        assert_eq!(outcome["pushes"][0]["state"], "delivered");

        let received = merchant_server.received();
        assert_eq!(received.len(), 2, "{mode}");
        let receiver = receiver(receiver_mode);
        let events: Vec<PushEvent> = received
            .iter()
            .map(|r| {
                if mode == "safe" {
                    assert!(!r.body.contains("SuccOrderId") && !r.body.contains("<Status>"));
                }
                receiver
                    .receive(
                        &PushQuery::parse(&r.query),
                        r.body.as_bytes(),
                        Timestamp::from_unix_seconds(0),
                    )
                    .unwrap_or_else(|e| panic!("{mode}: {e}"))
                    .event
            })
            .collect();
        let PushEvent::UserAuthorizeInvoice(auth) = &events[0] else {
            panic!("{mode}: first push is not an authorization");
        };
        assert_eq!(auth.succ_order_id.as_deref(), Some("o-1"));
        let PushEvent::UpdateInvoiceStatus(status) = &events[1] else {
            panic!("{mode}: second push is not a status update");
        };
        assert_eq!(status.status, "INVOICE_REIMBURSE_LOCK");
        assert_eq!(status.code, card.code);
        assert_eq!(status.card_id, merchant.card_id);
        assert_eq!(status.header.from_user_name, card.openid);
    }
}

#[tokio::test]
async fn a_callback_failing_twice_gets_a_third_attempt() {
    let sandbox = TestSandbox::start().await;
    let merchant_server = Callback::start(Behaviour::FailFirst(2)).await;
    sandbox
        .set_callback(OA, &merchant_server.url, "plain")
        .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    authorized_order(&sandbox, &client, &merchant, "retry-1", personal("张三")).await;

    let pushes = sandbox.control_get("/sandbox/control/pushes").await;
    let push = &pushes[0];
    assert_eq!(push["state"], "delivered");
    let attempts = push["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["outcome"], "http 500");
    assert_eq!(attempts[1]["outcome"], "http 500");
    assert_eq!(attempts[2]["outcome"], "http 200");
    assert_eq!(attempts[2]["reply"], "success");
    let received = merchant_server.received();
    assert_eq!(received.len(), 3);
    // A retry is the same message: the receiver deduplicates on FromUserName + CreateTime.
    assert!(received.iter().all(|r| r.body == received[0].body));
}

#[tokio::test]
async fn a_callback_that_never_answers_gets_exactly_three_attempts() {
    let sandbox = TestSandbox::with(|c| c.push.timeout_ms = 300).await;
    let merchant_server = Callback::start(Behaviour::Hang(Duration::from_secs(3))).await;
    sandbox
        .set_callback(OA, &merchant_server.url, "plain")
        .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    authorized_order(&sandbox, &client, &merchant, "hang-1", personal("张三")).await;

    let pushes = sandbox.control_get("/sandbox/control/pushes").await;
    let push = &pushes[0];
    assert_eq!(push["state"], "failed");
    let attempts = push["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "timeout");
        let elapsed = attempt["elapsed_ms"].as_u64().expect("elapsed");
        assert!((300..2000).contains(&elapsed), "{elapsed} ms");
    }
    // Nothing more comes later.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(merchant_server.received().len(), 3);
}

#[tokio::test]
async fn duplicate_pushes_can_be_injected() {
    let sandbox = TestSandbox::start().await;
    let merchant_server = Callback::start(Behaviour::Succeed).await;
    sandbox.set_callback(OA, &merchant_server.url, "safe").await;
    sandbox
        .control_ok(
            "/sandbox/control/faults",
            json!({"duplicate_push_rate": 1.0}),
        )
        .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let request =
        crate::support::auth_url_request(&client, OA, &merchant.s_pappid, "dup-1", "web", 1).await;
    client
        .execute(&appid(OA), &request)
        .await
        .expect("getauthurl");
    let outcome = sandbox
        .authorize(&merchant.s_pappid, "dup-1", personal("张三"))
        .await;
    let pushes = outcome["pushes"].as_array().expect("pushes");
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1]["duplicate_of"], pushes[0]["id"]);
    let received = merchant_server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
}

#[tokio::test]
async fn without_wait_the_push_happens_in_the_background() {
    let sandbox = TestSandbox::start().await;
    let merchant_server = Callback::start(Behaviour::Succeed).await;
    sandbox
        .set_callback(OA, &merchant_server.url, "plain")
        .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let request =
        crate::support::auth_url_request(&client, OA, &merchant.s_pappid, "bg-1", "web", 0).await;
    client
        .execute(&appid(OA), &request)
        .await
        .expect("getauthurl");
    sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": merchant.s_pappid, "order_id": "bg-1"}),
        )
        .await;
    for _ in 0..100 {
        if merchant_server.received().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the push never arrived");
}
