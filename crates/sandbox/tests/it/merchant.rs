//! The merchant APIs: setbizattr's six actions, getauthurl, getauthdata, rejectinsert, and
//! the post-payment flow.

use fapiao_domain::ports::WeixinMerchantApi;
use fapiao_domain::weixin::AuthStatus;
use fapiao_domain::{AuthSource, OrderId, PageStyle, SPappId};
use fapiao_weixin::wire::{
    AuthFieldSetting, ContactInfo, GetAuthDataRequest, GetAuthFieldRequest, GetContactRequest,
    GetPayMchRequest, PayMchInfo, RejectInsertRequest, SetAuthFieldRequest, SetContactRequest,
    SetPayMchRequest, UserFieldSetting,
};
use serde_json::json;

use crate::support::{
    APP, MINI, OA, OA_SECRET, TestSandbox, appid, auth_url_request, company, errcode,
    insert_request, personal, request_auth_url, sample_pdf, setup,
};

#[tokio::test]
async fn setbizattr_all_six_actions() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    let s_pappid = client.fetch_s_pappid(&oa).await.expect("seturl");

    let contact = ContactInfo {
        phone: "13800000000".to_owned(),
        time_out: 3600,
    };
    client
        .execute(
            &oa,
            &SetContactRequest {
                contact: contact.clone(),
            },
        )
        .await
        .expect("set_contact");
    let got = client
        .execute(&oa, &GetContactRequest {})
        .await
        .expect("get_contact");
    assert_eq!(got.contact, Some(contact));

    assert_eq!(
        client
            .execute(&oa, &GetAuthFieldRequest {})
            .await
            .expect("get_auth_field")
            .auth_field,
        None
    );
    let fields = AuthFieldSetting {
        user_field: UserFieldSetting {
            show_title: 1,
            show_email: 1,
            ..UserFieldSetting::default()
        },
        ..AuthFieldSetting::default()
    };
    client
        .execute(
            &oa,
            &SetAuthFieldRequest {
                auth_field: fields.clone(),
            },
        )
        .await
        .expect("set_auth_field");
    let got = client
        .execute(&oa, &GetAuthFieldRequest {})
        .await
        .expect("get_auth_field");
    assert_eq!(got.auth_field, Some(fields));

    // No binding yet: 72028.
    assert_eq!(
        errcode(client.execute(&oa, &GetPayMchRequest {}).await).0,
        72028
    );
    let (code, _) = errcode(
        client
            .execute(
                &oa,
                &SetPayMchRequest {
                    paymch_info: PayMchInfo {
                        mchid: "not-a-mchid".to_owned(),
                        s_pappid: s_pappid.clone(),
                    },
                },
            )
            .await,
    );
    assert_eq!(code, 72030);
    let binding = PayMchInfo {
        mchid: "1900000109".to_owned(),
        s_pappid,
    };
    client
        .execute(
            &oa,
            &SetPayMchRequest {
                paymch_info: binding.clone(),
            },
        )
        .await
        .expect("set_pay_mch");
    let got = client
        .execute(&oa, &GetPayMchRequest {})
        .await
        .expect("get_pay_mch");
    assert_eq!(got.paymch_info, Some(binding));

    let token = sandbox.raw_token(OA, OA_SECRET).await;
    let unknown = sandbox
        .raw_post(
            &format!("/card/invoice/setbizattr?action=frobnicate&access_token={token}"),
            "{}",
        )
        .await;
    assert_eq!(unknown["errcode"], 72031);
    let missing = sandbox
        .raw_post(
            &format!("/card/invoice/setbizattr?action=set_contact&access_token={token}"),
            "{}",
        )
        .await;
    assert_eq!(missing["errcode"], 72031);
    assert!(
        missing["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid params, contact is empty rid: "))
    );
}

#[tokio::test]
async fn getauthurl_errcodes() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    let s_pappid = client.fetch_s_pappid(&oa).await.expect("seturl");

    // No contact: 72063.
    let request = auth_url_request(&client, OA, &s_pappid, "o-1", "web", 0).await;
    assert_eq!(errcode(client.execute(&oa, &request).await).0, 72063);
    client
        .execute(
            &oa,
            &SetContactRequest {
                contact: ContactInfo {
                    phone: "13800000000".to_owned(),
                    time_out: 3600,
                },
            },
        )
        .await
        .expect("set_contact");
    client.execute(&oa, &request).await.expect("getauthurl");

    // Page style 1 without auth fields: 72029.
    let style_1 = auth_url_request(&client, OA, &s_pappid, "o-2", "web", 1).await;
    assert_eq!(errcode(client.execute(&oa, &style_1).await).0, 72029);

    // Empty and unknown s_pappid: 72031.
    let mut empty = request.clone();
    empty.s_pappid = String::new();
    let (code, errmsg) = errcode(client.execute(&oa, &empty).await);
    assert_eq!(code, 72031);
    assert!(
        errmsg.starts_with("invalid params, s_pappid is empty rid: "),
        "{errmsg}"
    );
    let mut unknown = request.clone();
    unknown.s_pappid = "d3hub3RhcmVhbHBhcHBpZA".to_owned();
    assert_eq!(errcode(client.execute(&oa, &unknown).await).0, 72031);

    // A ticket that was never issued.
    let mut bad_ticket = request.clone();
    bad_ticket.ticket = "forged".to_owned().into();
    assert_eq!(errcode(client.execute(&oa, &bad_ticket).await).0, 72031);
}

#[tokio::test]
async fn mini_program_and_app_get_auth_urls_with_their_own_tokens() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;

    let wxa = auth_url_request(&client, MINI, &merchant.s_pappid, "mp-1", "wxa", 0).await;
    let answer = client
        .execute(&appid(MINI), &wxa)
        .await
        .expect("getauthurl wxa");
    assert_eq!(answer.appid.as_deref(), Some("wxinvoicesandbox00"));
    let app = auth_url_request(&client, APP, &merchant.s_pappid, "app-1", "app", 0).await;
    let answer = client
        .execute(&appid(APP), &app)
        .await
        .expect("getauthurl app");
    assert_eq!(answer.appid, None);

    // The event names the account whose token obtained the URL, and goes to the platform
    // account; insert must name that appid.
    let outcome = sandbox
        .authorize(&merchant.s_pappid, "mp-1", json!(null))
        .await;
    assert_eq!(outcome["pushes"][0]["appid"], OA);
    let xml = outcome["pushes"][0]["xml"].as_str().expect("xml");
    assert!(xml.contains(&format!(
        "<AuthorizeAppId><![CDATA[{MINI}]]></AuthorizeAppId>"
    )));
    assert!(xml.contains("<Source><![CDATA[wxa]]></Source>"));
    assert!(xml.contains(&format!(
        "<SPAppId><![CDATA[{}]]></SPAppId>",
        merchant.s_pappid
    )));

    let oa = appid(OA);
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let wrong_appid = insert_request(
        "mp-1",
        &merchant.card_id,
        OA,
        &media,
        "24312000000000000011",
    );
    assert_eq!(errcode(client.execute(&oa, &wrong_appid).await).0, 72038);
    let right_appid = insert_request(
        "mp-1",
        &merchant.card_id,
        MINI,
        &media,
        "24312000000000000011",
    );
    client.execute(&oa, &right_appid).await.expect("insert");
}

#[tokio::test]
async fn getauthdata_reports_the_chosen_title() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let s_pappid = SPappId::parse(&merchant.s_pappid).expect("s_pappid");
    let order = |id: &str| OrderId::parse(id).expect("order_id");
    for (order_id, title) in [
        ("personal-1", personal("张三")),
        (
            "company-1",
            company("沙箱科技有限公司", "91310000MA1FL8LQ3X"),
        ),
    ] {
        request_auth_url(
            &client,
            OA,
            &merchant.s_pappid,
            order_id,
            AuthSource::Web,
            PageStyle::FillTitle,
        )
        .await
        .expect("getauthurl");
        let data = client
            .auth_data(&s_pappid, &order(order_id))
            .await
            .expect("getauthdata");
        assert_eq!(data.status, AuthStatus::NeverAuth);
        sandbox.authorize(&merchant.s_pappid, order_id, title).await;
    }
    let personal = client
        .auth_data(&s_pappid, &order("personal-1"))
        .await
        .expect("getauthdata");
    assert_eq!(personal.status, AuthStatus::AuthSuccess);
    assert_eq!(personal.personal.expect("user_field").title, "张三");
    assert_eq!(personal.company, None);
    let company = client
        .auth_data(&s_pappid, &order("company-1"))
        .await
        .expect("getauthdata");
    assert_eq!(company.personal, None);
    let biz = company.company.expect("biz_field");
    assert_eq!(biz.title, "沙箱科技有限公司");
    assert_eq!(biz.tax_no.as_deref(), Some("91310000MA1FL8LQ3X"));

    // An order nobody ever asked for is "never auth" too.
    let unknown = client
        .auth_data(&s_pappid, &order("no-such-order"))
        .await
        .expect("getauthdata");
    assert_eq!(unknown.status, AuthStatus::NeverAuth);
}

#[tokio::test]
async fn both_titles_can_be_configured() {
    let sandbox =
        TestSandbox::with(|c| c.unconfirmed.user_auth_info = fapiao_sandbox::AuthInfoFields::Both)
            .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    crate::support::authorized_order(&sandbox, &client, &merchant, "both-1", personal("张三"))
        .await;
    let data = client
        .auth_data(
            &SPappId::parse(&merchant.s_pappid).expect("s_pappid"),
            &OrderId::parse("both-1").expect("order_id"),
        )
        .await
        .expect("getauthdata");
    assert_eq!(data.personal.expect("user_field").title, "张三");
    assert_eq!(data.company.expect("biz_field").title, "");
}

#[tokio::test]
async fn failed_authorization_and_control_errors() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    let request = auth_url_request(&client, OA, &merchant.s_pappid, "fail-1", "web", 1).await;
    client.execute(&oa, &request).await.expect("getauthurl");

    let (status, error) = sandbox
        .control_post(
            "/sandbox/control/authorize",
            json!({"s_pappid": merchant.s_pappid, "order_id": "fail-1"}),
        )
        .await;
    assert_eq!(status, 400, "page style 1 needs a title: {error}");
    let (status, _) = sandbox
        .control_post(
            "/sandbox/control/authorize",
            json!({"s_pappid": merchant.s_pappid, "order_id": "nope", "title": personal("x")}),
        )
        .await;
    assert_eq!(status, 404);

    let failed = sandbox
        .control_ok(
            "/sandbox/control/authorize",
            json!({"s_pappid": merchant.s_pappid, "order_id": "fail-1", "fail": true, "wait": true}),
        )
        .await;
    assert_eq!(failed["order"]["status"], "failed");
    let xml = failed["pushes"][0]["xml"].as_str().expect("xml");
    assert!(xml.contains(
        "<SuccOrderId><![CDATA[]]></SuccOrderId><FailOrderId><![CDATA[fail-1]]></FailOrderId>"
    ));
    let data = client
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid: merchant.s_pappid.clone(),
                order_id: "fail-1".to_owned(),
            },
        )
        .await
        .expect("getauthdata");
    assert_eq!(data.invoice_status, "never auth");
    // Rejecting an order the buyer never authorized: 72038.
    let (code, _) = errcode(
        client
            .execute(
                &oa,
                &RejectInsertRequest {
                    s_pappid: merchant.s_pappid.clone(),
                    order_id: "fail-1".to_owned(),
                    reason: "r".to_owned(),
                    url: None,
                },
            )
            .await,
    );
    assert_eq!(code, 72038);
    // The buyer may try again after a failure; a second authorization is refused.
    sandbox
        .authorize(&merchant.s_pappid, "fail-1", personal("李四"))
        .await;
    let (status, _) = sandbox
        .control_post(
            "/sandbox/control/authorize",
            json!({"s_pappid": merchant.s_pappid, "order_id": "fail-1", "title": personal("x")}),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn post_payment_invoicing() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);

    let (status, _) = sandbox
        .control_post("/sandbox/control/pay", json!({"money": 2500}))
        .await;
    assert_eq!(status, 409, "no set_pay_mch yet");
    client
        .execute(
            &oa,
            &SetPayMchRequest {
                paymch_info: PayMchInfo {
                    mchid: "1900000109".to_owned(),
                    s_pappid: merchant.s_pappid.clone(),
                },
            },
        )
        .await
        .expect("set_pay_mch");
    let no_entry = sandbox
        .control_ok(
            "/sandbox/control/pay",
            json!({"money": 2500, "receipt": "N"}),
        )
        .await;
    assert!(no_entry.get("order").is_none());

    let paid = sandbox
        .control_ok(
            "/sandbox/control/pay",
            json!({"money": 2500, "receipt": "Y", "out_trade_no": "shop-42"}),
        )
        .await;
    let transaction_id = paid["payment"]["transaction_id"]
        .as_str()
        .expect("transaction_id");
    let order = &paid["order"];
    assert_eq!(order["order_id"], transaction_id);
    assert_eq!(order["page_type"], 1);
    assert_eq!(order["s_pappid"], merchant.s_pappid.as_str());

    sandbox
        .authorize(
            &merchant.s_pappid,
            transaction_id,
            company("沙箱科技有限公司", "91310000MA1FL8LQ3X"),
        )
        .await;
    let data = client
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid: merchant.s_pappid.clone(),
                order_id: transaction_id.to_owned(),
            },
        )
        .await
        .expect("getauthdata");
    assert_eq!(data.invoice_status, "auth success");
    assert!(data.user_auth_info.and_then(|i| i.biz_field).is_some());
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let mut insert = insert_request(
        transaction_id,
        &merchant.card_id,
        OA,
        &media,
        "24312000000000000021",
    );
    insert.card_ext.user_card.invoice_user_data.fee = 2500;
    insert.card_ext.user_card.invoice_user_data.fee_without_tax = 2358;
    insert.card_ext.user_card.invoice_user_data.tax = 142;
    client.execute(&oa, &insert).await.expect("insert");
}

#[tokio::test]
async fn post_payment_order_id_can_be_the_out_trade_no() {
    let sandbox = TestSandbox::with(|c| {
        c.unconfirmed.post_payment_order_id = fapiao_sandbox::PostPaymentOrderId::OutTradeNo;
    })
    .await;
    let client = sandbox.client();
    let oa = appid(OA);
    let s_pappid = client.fetch_s_pappid(&oa).await.expect("seturl");
    client
        .execute(
            &oa,
            &SetPayMchRequest {
                paymch_info: PayMchInfo {
                    mchid: "1900000109".to_owned(),
                    s_pappid,
                },
            },
        )
        .await
        .expect("set_pay_mch");
    let paid = sandbox
        .control_ok(
            "/sandbox/control/pay",
            json!({"money": 100, "out_trade_no": "shop-43"}),
        )
        .await;
    assert_eq!(paid["order"]["order_id"], "shop-43");
}

#[tokio::test]
async fn getauthurl_can_be_limited_to_the_platform_account() {
    let sandbox = TestSandbox::with(|c| {
        c.unconfirmed.getauthurl_caller = fapiao_sandbox::AuthUrlCaller::PlatformOnly;
    })
    .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let refused = request_auth_url(
        &client,
        MINI,
        &merchant.s_pappid,
        "mp-2",
        AuthSource::Wxa,
        PageStyle::Apply,
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(fapiao_domain::weixin::WeixinError::Api { errcode: 72015, .. })
        ),
        "{refused:?}"
    );
    request_auth_url(
        &client,
        OA,
        &merchant.s_pappid,
        "oa-2",
        AuthSource::Wxa,
        PageStyle::Apply,
    )
    .await
    .expect("the platform account may");
}
