//! The "done when": a client that only changes its base URL completes the whole flow,
//! and the rejection path ends in 72035.

use fapiao_domain::Timestamp;
use fapiao_weixin::event::{PushConfig, PushReceiver};
use fapiao_weixin::wire::{
    ContactInfo, GetAuthDataRequest, GetAuthUrlRequest, PushEvent, RejectInsertRequest,
    SetContactRequest, UpdateStatusRequest,
};
use serde_json::json;

use crate::support::{
    Behaviour, Callback, OA, TestSandbox, appid, card_template, errcode, insert_request,
    push_query, sample_pdf,
};

#[tokio::test]
async fn whole_flow_and_rejection_path() {
    let sandbox = TestSandbox::start().await;
    let merchant = Callback::start(Behaviour::Succeed).await;
    sandbox.set_callback(OA, &merchant.url, "plain").await;
    let client = sandbox.client();
    let oa = appid(OA);

    // token → seturl → contact → ticket
    client.access_token(&oa).await.expect("token");
    let s_pappid = client.fetch_s_pappid(&oa).await.expect("seturl");
    assert_eq!(s_pappid.len(), 68);
    assert_eq!(client.fetch_s_pappid(&oa).await.expect("seturl"), s_pappid);
    client
        .execute(
            &oa,
            &SetContactRequest {
                contact: ContactInfo {
                    phone: "021-88888888".to_owned(),
                    time_out: 7200,
                },
            },
        )
        .await
        .expect("set_contact");
    let ticket = client.wx_card_ticket(&oa).await.expect("ticket");

    // getauthurl → the buyer authorizes (control API) → getauthdata
    let auth_url = client
        .execute(
            &oa,
            &GetAuthUrlRequest {
                s_pappid: s_pappid.clone(),
                order_id: "order-0001".to_owned(),
                money: 3800,
                timestamp: 1_714_000_000,
                source: "web".to_owned(),
                redirect_url: Some("https://merchant.example/done".to_owned()),
                ticket: ticket.clone(),
                page_type: 0,
            },
        )
        .await
        .expect("getauthurl");
    assert!(
        auth_url
            .auth_url
            .starts_with(&format!("{}/sandbox/auth?", sandbox.base))
    );
    assert_eq!(auth_url.appid, None);
    let never = client
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid: s_pappid.clone(),
                order_id: "order-0001".to_owned(),
            },
        )
        .await
        .expect("getauthdata");
    assert_eq!(never.invoice_status, "never auth");

    let authorized = sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": s_pappid, "order_id": "order-0001", "wait": true}),
        )
        .await;
    assert_eq!(authorized["order"]["status"], "authorized");
    assert_eq!(authorized["pushes"][0]["state"], "delivered");
    let openid = authorized["order"]["openid"]
        .as_str()
        .expect("openid")
        .to_owned();

    // The merchant got the event, and the adapter's receiver accepts it.
    let received = merchant.received();
    assert_eq!(received.len(), 1);
    let receiver =
        PushReceiver::new(PushConfig::plain("sandboxtoken", oa.clone())).expect("receiver");
    let push = receiver
        .receive(
            &push_query(&received[0].query),
            received[0].body.as_bytes(),
            Timestamp::from_unix_seconds(0),
        )
        .expect("push verifies");
    let PushEvent::UserAuthorizeInvoice(event) = push.event else {
        panic!("not an authorization event");
    };
    assert_eq!(event.succ_order_id.as_deref(), Some("order-0001"));
    assert_eq!(event.authorize_appid.as_deref(), Some(OA));
    assert_eq!(event.source.as_deref(), Some("web"));
    assert_eq!(event.s_pappid.as_deref(), Some(s_pappid.as_str()));
    assert_eq!(event.header.from_user_name, openid);

    let data = client
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid: s_pappid.clone(),
                order_id: "order-0001".to_owned(),
            },
        )
        .await
        .expect("getauthdata");
    assert_eq!(data.invoice_status, "auth success");
    assert!(data.auth_time.is_some());

    // createcard → setpdf → insert → updatestatus
    let card_id = client
        .execute(&oa, &card_template())
        .await
        .expect("createcard")
        .card_id;
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let inserted = client
        .execute(
            &oa,
            &insert_request("order-0001", &card_id, OA, &media, "24312000000000000001"),
        )
        .await
        .expect("insert");
    assert_eq!(inserted.code.len(), 12);
    assert_eq!(inserted.openid, openid);
    client
        .execute(
            &oa,
            &UpdateStatusRequest {
                card_id: card_id.clone(),
                code: inserted.code.clone(),
                reimburse_status: "INVOICE_REIMBURSE_CANCEL".to_owned(),
            },
        )
        .await
        .expect("updatestatus");

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
    client
        .execute(
            &oa,
            &GetAuthUrlRequest {
                order_id: "order-0002".to_owned(),
                ticket,
                ..auth_url_request_template(&s_pappid)
            },
        )
        .await
        .expect("getauthurl");
    sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": s_pappid, "order_id": "order-0002", "wait": true}),
        )
        .await;
    client
        .execute(
            &oa,
            &RejectInsertRequest {
                s_pappid: s_pappid.clone(),
                order_id: "order-0002".to_owned(),
                reason: "抬头有误 wrong title".to_owned(),
                url: Some("https://merchant.example/retry".to_owned()),
            },
        )
        .await
        .expect("rejectinsert");
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let (code, errmsg) = errcode(
        client
            .execute(
                &oa,
                &insert_request("order-0002", &card_id, OA, &media, "24312000000000000002"),
            )
            .await,
    );
    assert_eq!(code, 72035);
    assert!(errmsg.contains(" rid: "), "{errmsg}");
    let (code, _) = errcode(
        client
            .execute(
                &oa,
                &GetAuthDataRequest {
                    s_pappid: s_pappid.clone(),
                    order_id: "order-0002".to_owned(),
                },
            )
            .await,
    );
    assert_eq!(code, 72035);
    // The buyer was told.
    let cards = sandbox
        .control_get(&format!("/sandbox/control/cards?openid={openid}"))
        .await;
    assert_eq!(cards["notices"][0]["order_id"], "order-0002");
}

fn auth_url_request_template(s_pappid: &str) -> GetAuthUrlRequest {
    GetAuthUrlRequest {
        s_pappid: s_pappid.to_owned(),
        order_id: String::new(),
        money: 1200,
        timestamp: 1_714_000_000,
        source: "web".to_owned(),
        redirect_url: None,
        ticket: String::new().into(),
        page_type: 0,
    }
}
