//! The "done when": a client that only changes its base URL completes the whole flow,
//! and the rejection path ends in 72035. Driven through the adapter's domain ports.

use fapiao_domain::ports::{PushDecoder, WeixinMerchantApi, WeixinPlatformApi};
use fapiao_domain::weixin::{
    AuthOutcome, AuthStatus, AuthUrlRequest, Contact, ReimburseStatus, RejectRequest, WeixinEvent,
};
use fapiao_domain::{AuthSource, CardCode, Fen, OrderId, PageStyle, Timestamp};
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::{PushConfig, PushMode, PushReceiver};
use serde_json::json;

use crate::support::{
    Behaviour, Callback, OA, TestSandbox, appid, insertion, port_errcode, sample_pdf, template,
    upload,
};

#[tokio::test]
async fn whole_flow_and_rejection_path() {
    let sandbox = TestSandbox::start().await;
    let merchant = Callback::start(Behaviour::Succeed).await;
    // The default accounts push in safe mode, as the fapiao service expects.
    sandbox.set_callback(OA, &merchant.url, "safe").await;
    let client = sandbox.client();
    let oa = appid(OA);

    // token → seturl → contact → ticket
    client.access_token(&oa).await.expect("token");
    let s_pappid = client.platform_id().await.expect("seturl");
    assert_eq!(client.platform_id().await.expect("seturl"), s_pappid);
    assert_eq!(client.contact().await.expect("get_contact"), None);
    let contact = Contact {
        phone: "021-88888888".to_owned(),
        time_out_seconds: 7200,
    };
    client.set_contact(&contact).await.expect("set_contact");
    assert_eq!(client.contact().await.expect("get_contact"), Some(contact));
    let ticket = WeixinMerchantApi::wx_card_ticket(&client, &oa)
        .await
        .expect("ticket");

    // getauthurl → the buyer authorizes (control API) → getauthdata
    let order_id = OrderId::parse("order-0001").expect("order_id");
    let request = AuthUrlRequest {
        s_pappid: s_pappid.clone(),
        order_id: order_id.clone(),
        money: Fen::new(3800),
        timestamp: Timestamp::from_unix_seconds(1_714_000_000),
        source: AuthSource::Web,
        redirect_url: Some("https://merchant.example/done".to_owned()),
        ticket: ticket.clone(),
        page_style: PageStyle::Apply,
    };
    let auth_url = client.auth_url(&oa, &request).await.expect("getauthurl");
    assert!(
        auth_url
            .url
            .starts_with(&format!("{}/sandbox/auth?", sandbox.base))
    );
    assert_eq!(auth_url.appid, None);
    let never = client
        .auth_data(&s_pappid, &order_id)
        .await
        .expect("getauthdata");
    assert_eq!(never.status, AuthStatus::NeverAuth);

    let authorized = sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": s_pappid.as_str(), "order_id": "order-0001", "wait": true}),
        )
        .await;
    assert_eq!(authorized["order"]["status"], "authorized");
    assert_eq!(authorized["pushes"][0]["state"], "delivered");
    let openid = authorized["order"]["openid"]
        .as_str()
        .expect("openid")
        .to_owned();

    // The merchant got the encrypted event, and the adapter's push decoder accepts it.
    let received = merchant.received();
    assert_eq!(received.len(), 1);
    assert!(
        !received[0].body.contains("SuccOrderId"),
        "safe mode hides the message"
    );
    let decoder = PushReceiver::new(PushConfig::encrypted(
        "sandboxtoken",
        oa.clone(),
        PushMode::Safe,
        KeyRing::new(
            AesKey::from_encoding_aes_key(fapiao_sandbox::config::DEFAULT_ENCODING_AES_KEY)
                .expect("key"),
        ),
    ))
    .expect("decoder");
    let event = decoder
        .decode(
            &received[0].query,
            received[0].body.as_bytes(),
            Timestamp::from_unix_seconds(0),
        )
        .expect("push decodes");
    let WeixinEvent::Authorization(event) = event else {
        panic!("not an authorization event: {event:?}");
    };
    assert_eq!(event.outcome, AuthOutcome::Succeeded(order_id.clone()));
    assert_eq!(event.authorize_appid, Some(oa.clone()));
    assert_eq!(event.source, Some(AuthSource::Web));
    assert_eq!(event.s_pappid, Some(s_pappid.clone()));
    assert_eq!(event.openid.as_str(), openid);

    let data = client
        .auth_data(&s_pappid, &order_id)
        .await
        .expect("getauthdata");
    assert_eq!(data.status, AuthStatus::AuthSuccess);
    assert!(data.auth_time.is_some());

    // createcard → setpdf → getpdf → insert → updatestatus
    let card_id = client
        .create_card_template(&template())
        .await
        .expect("createcard");
    let media = upload(&client).await;
    let pdf_url = client.pdf_url(&media).await.expect("getpdf");
    assert_eq!(pdf_url.expires_in_seconds, 7200);
    let inserted = client
        .insert_card(&insertion(
            "order-0001",
            card_id.as_str(),
            OA,
            &media,
            "24312000000000000001",
        ))
        .await
        .expect("insert");
    // The run's epoch (the start time in Unix milliseconds), then the run's card count.
    assert_eq!(inserted.code.as_str().len(), 20);
    assert!(inserted.code.as_str().ends_with("0000001"));
    assert_eq!(inserted.openid.as_str(), openid);
    // A repeat of the insert is refused (72056); the buyer's card list names the code.
    assert_eq!(
        port_errcode(
            client
                .insert_card(&insertion(
                    "order-0001",
                    card_id.as_str(),
                    OA,
                    &media,
                    "24312000000000000001",
                ))
                .await
        ),
        72056
    );
    let listed = client
        .user_card_codes(&inserted.openid, &card_id)
        .await
        .expect("getcardlist");
    assert_eq!(listed, vec![inserted.code.clone()]);
    let stranger = fapiao_domain::OpenId::parse("oSomebodyElse").expect("openid");
    assert_eq!(
        client
            .user_card_codes(&stranger, &card_id)
            .await
            .expect("getcardlist"),
        Vec::<CardCode>::new()
    );
    client
        .update_card_status(&card_id, &inserted.code, ReimburseStatus::Cancel)
        .await
        .expect("updatestatus");
    // Not the card code: 72038.
    let wrong_code = CardCode::parse("24312000000000000001").expect("code");
    assert_eq!(
        port_errcode(
            client
                .update_card_status(&card_id, &wrong_code, ReimburseStatus::Lock)
                .await
        ),
        72038
    );

    // The card is in the buyer's Cards & Offers with its PDF.
    let cards = sandbox
        .control_get(&format!("/sandbox/control/cards?openid={openid}"))
        .await;
    let card = &cards["cards"][0];
    assert_eq!(card["code"], inserted.code.as_str());
    assert_eq!(card["status"], "INVOICE_REIMBURSE_CANCEL");
    let pdf = sandbox
        .http
        .get(card["pdf_url"].as_str().expect("pdf_url"))
        .send()
        .await
        .expect("pdf");
    assert_eq!(
        pdf.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(pdf.bytes().await.expect("bytes").to_vec(), sample_pdf());

    // Rejection path: authorized, rejected, and a later insert is refused with 72035.
    let rejected = OrderId::parse("order-0002").expect("order_id");
    client
        .auth_url(
            &oa,
            &AuthUrlRequest {
                order_id: rejected.clone(),
                ..request
            },
        )
        .await
        .expect("getauthurl");
    sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": s_pappid.as_str(), "order_id": "order-0002", "wait": true}),
        )
        .await;
    client
        .reject_insert(&RejectRequest {
            s_pappid: s_pappid.clone(),
            order_id: rejected.clone(),
            reason: "抬头有误 wrong title".to_owned(),
            url: Some("https://merchant.example/retry".to_owned()),
        })
        .await
        .expect("rejectinsert");
    let media = upload(&client).await;
    let refused = client
        .insert_card(&insertion(
            "order-0002",
            card_id.as_str(),
            OA,
            &media,
            "24312000000000000002",
        ))
        .await;
    match &refused {
        Err(fapiao_domain::weixin::WeixinError::Api {
            errcode: 72035,
            errmsg,
        }) => {
            assert!(errmsg.starts_with("biz reject insert rid: "), "{errmsg}");
        }
        other => panic!("expected 72035, got {other:?}"),
    }
    assert_eq!(
        port_errcode(client.auth_data(&s_pappid, &rejected).await),
        72035
    );
    // The buyer was told.
    let cards = sandbox
        .control_get(&format!("/sandbox/control/cards?openid={openid}"))
        .await;
    assert_eq!(cards["notices"][0]["order_id"], "order-0002");
}

/// The service's database outlives an in-process sandbox: a sandbox started again (same seed,
/// same order ids) must not hand out a card code, or a card template id, of the last run.
#[tokio::test]
async fn sandboxes_started_one_after_the_other_never_hand_out_the_same_card_code() {
    use std::collections::BTreeSet;

    use crate::support::{authorized_order, personal, setup};

    let mut codes = Vec::new();
    let mut card_ids = BTreeSet::new();
    for _run in 0..2 {
        let sandbox = TestSandbox::start().await;
        let client = sandbox.client();
        let merchant = setup(&client).await;
        card_ids.insert(merchant.card_id.clone());
        for n in 0..3 {
            let order_id = format!("order-{n}");
            authorized_order(&sandbox, &client, &merchant, &order_id, personal("张三")).await;
            let media = upload(&client).await;
            let inserted = client
                .insert_card(&insertion(
                    &order_id,
                    &merchant.card_id,
                    OA,
                    &media,
                    &format!("2431200000000000010{n}"),
                ))
                .await
                .expect("insert");
            codes.push(inserted.code.as_str().to_owned());
        }
    }
    let distinct: BTreeSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 6, "{codes:?}");
    assert_eq!(card_ids.len(), 2, "a new template id per run");
}
