//! The domain ports as the application sees them (`dyn WeixinMerchantApi`,
//! `dyn WeixinPlatformApi`): domain values in, the pinned wire shape out, domain values back,
//! and errors translated to `WeixinError`.

use std::sync::Arc;

use fapiao_domain::ports::{WeixinMerchantApi, WeixinPlatformApi};
use fapiao_domain::weixin::{
    AuthFields, AuthStatus, AuthUrlRequest, CardInsertion, CardItem, CardTemplate, Contact,
    InvoiceCardData, PayMchBinding, ReimburseStatus, RejectRequest, WeixinError,
};
use fapiao_domain::{
    AuthSource, CardCode, CardId, Fen, MediaId, OrderId, PageStyle, SPappId, Secret, Timestamp,
};
use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    MINI_APPID, TOKEN, err, mini_appid, ok, token_answer, weixin, weixin_maybe_unused,
};

fn post(path_: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(path_))
        .and(query_param("access_token", TOKEN))
}

fn setbizattr(action: &str) -> wiremock::MockBuilder {
    post("/card/invoice/setbizattr").and(query_param("action", action))
}

async fn merchant() -> (MockServer, Arc<dyn WeixinMerchantApi>) {
    let (server, client) = weixin().await;
    (server, Arc::new(client))
}

async fn platform() -> (MockServer, Arc<dyn WeixinPlatformApi>) {
    let (server, client) = weixin().await;
    (server, Arc::new(client))
}

fn s_pappid() -> SPappId {
    SPappId::parse("d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc").expect("s_pappid")
}

#[tokio::test]
async fn auth_url_as_the_given_account() {
    let (server, client) = weixin_maybe_unused().await;
    let api: Arc<dyn WeixinMerchantApi> = Arc::new(client);
    Mock::given(path("/cgi-bin/stable_token"))
        .and(wiremock::matchers::body_partial_json(
            json!({"appid": MINI_APPID}),
        ))
        .respond_with(token_answer("MINI_TOKEN"))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/card/invoice/getauthurl"))
        .and(query_param("access_token", "MINI_TOKEN"))
        .and(body_json(
            json!({"s_pappid": "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc", "order_id": "o-1",
            "money": 1130, "timestamp": 1474875876, "source": "wxa", "ticket": "tttt", "type": 1}),
        ))
        .respond_with(ok(
            json!({"auth_url": "pages/auth?x=1", "appid": "wx9d4d4ffa781ff3ac"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let request = AuthUrlRequest {
        s_pappid: s_pappid(),
        order_id: OrderId::parse("o-1").expect("order"),
        money: Fen::new(1130),
        timestamp: Timestamp::from_unix_seconds(1_474_875_876),
        source: AuthSource::Wxa,
        redirect_url: None,
        ticket: Secret::new("tttt"),
        page_style: PageStyle::FillTitle,
    };
    let url = api.auth_url(&mini_appid(), &request).await.expect("url");
    assert_eq!(url.url, "pages/auth?x=1");
    assert_eq!(
        url.appid.map(|a| a.to_string()).as_deref(),
        Some("wx9d4d4ffa781ff3ac")
    );
}

#[tokio::test]
async fn ticket_through_the_port() {
    let (server, api) = merchant().await;
    Mock::given(path("/cgi-bin/ticket/getticket"))
        .and(query_param("type", "wx_card"))
        .respond_with(ok(json!({"ticket": "T_wx_card", "expires_in": 7200})))
        .expect(1)
        .mount(&server)
        .await;
    let ticket = api
        .wx_card_ticket(&crate::support::appid())
        .await
        .expect("ticket");
    assert_eq!(ticket.expose(), "T_wx_card");
    assert_eq!(format!("{ticket:?}"), "Secret(***)");
}

#[tokio::test]
async fn auth_data_maps_titles_and_status() {
    let (server, api) = merchant().await;
    post("/card/invoice/getauthdata")
        .and(body_json(json!({"s_pappid": "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc", "order_id": "o-1"})))
        .respond_with(ok(json!({"invoice_status": "auth success", "auth_time": 1480342498,
            "user_auth_info": {
                "user_field": {"title": "张三", "phone": "5554545", "email": "",
                               "custom_field": [{"key": "field1", "value": "v1"}]},
                "biz_field": {"title": "某某科技有限公司", "tax_no": "91440300MA5FXXXX1X", "addr": "深圳",
                              "phone": "0755", "bank_type": "招商银行", "bank_no": "6225"}}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    post("/card/invoice/getauthdata")
        .respond_with(ok(json!({"invoice_status": "never auth"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let order = OrderId::parse("o-1").expect("order");
    let data = api.auth_data(&s_pappid(), &order).await.expect("data");
    assert_eq!(data.status, AuthStatus::AuthSuccess);
    assert_eq!(
        data.auth_time,
        Some(Timestamp::from_unix_seconds(1_480_342_498))
    );
    let personal = data.personal.expect("personal");
    assert_eq!(personal.title, "张三");
    assert_eq!(personal.email, None);
    assert_eq!(
        personal.custom_fields,
        vec![("field1".to_owned(), "v1".to_owned())]
    );
    let company = data.company.expect("company");
    assert_eq!(company.bank_name.as_deref(), Some("招商银行"));
    assert_eq!(company.bank_account.as_deref(), Some("6225"));
    assert_eq!(company.address.as_deref(), Some("深圳"));
    let never = api.auth_data(&s_pappid(), &order).await.expect("data");
    assert_eq!(never.status, AuthStatus::NeverAuth);
    assert_eq!(
        (never.auth_time, never.personal, never.company),
        (None, None, None)
    );
}

#[tokio::test]
async fn settings_round_trip() {
    let (server, api) = merchant().await;
    setbizattr("set_contact")
        .and(body_json(
            json!({"contact": {"phone": "020-12345678", "time_out": 86400}}),
        ))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_contact")
        .respond_with(ok(
            json!({"contact": {"phone": "020-12345678", "time_out": 86400}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let standard = json!({
        "user_field": {"show_title": 1, "show_phone": 0, "show_email": 0, "require_phone": 0,
                       "require_email": 0, "custom_field": []},
        "biz_field": {"show_title": 1, "show_tax_no": 1, "show_addr": 1, "show_phone": 1,
                      "show_bank_type": 1, "show_bank_no": 1, "require_tax_no": 1, "require_addr": 0,
                      "require_phone": 0, "require_bank_type": 0, "require_bank_no": 0, "custom_field": []}
    });
    setbizattr("set_auth_field")
        .and(body_json(json!({"auth_field": standard})))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_auth_field")
        .respond_with(ok(json!({"auth_field": standard})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("set_pay_mch")
        .and(body_json(json!({"paymch_info": {"mchid": "1900000109", "s_pappid": "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc"}})))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_pay_mch")
        .respond_with(err(72028, "invoice never set pay mch info"))
        .expect(1)
        .mount(&server)
        .await;

    let contact = Contact {
        phone: "020-12345678".into(),
        time_out_seconds: 86_400,
    };
    api.set_contact(&contact).await.expect("set contact");
    assert_eq!(api.contact().await.expect("contact"), Some(contact));
    api.set_auth_fields(&AuthFields::standard())
        .await
        .expect("set fields");
    assert_eq!(
        api.auth_fields().await.expect("fields"),
        Some(AuthFields::standard())
    );
    let binding = PayMchBinding {
        mchid: "1900000109".into(),
        s_pappid: s_pappid(),
    };
    api.set_pay_mch(&binding).await.expect("set pay mch");
    assert_eq!(api.pay_mch().await.expect("72028 is not an error"), None);
}

#[tokio::test]
async fn unset_settings_are_none() {
    let (server, api) = merchant().await;
    setbizattr("get_contact")
        .respond_with(ok(json!({})))
        .mount(&server)
        .await;
    setbizattr("get_auth_field")
        .respond_with(ok(json!({})))
        .mount(&server)
        .await;
    setbizattr("get_pay_mch")
        .respond_with(ok(json!({"paymch_info": {"mchid": "1900000109", "s_pappid": "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc"}})))
        .mount(&server)
        .await;
    assert_eq!(api.contact().await.expect("contact"), None);
    assert_eq!(api.auth_fields().await.expect("fields"), None);
    assert_eq!(
        api.pay_mch().await.expect("bound"),
        Some(PayMchBinding {
            mchid: "1900000109".into(),
            s_pappid: s_pappid()
        })
    );
}

#[tokio::test]
async fn reject_insert_through_the_port() {
    let (server, api) = merchant().await;
    post("/card/invoice/rejectinsert")
        .and(body_json(json!({"s_pappid": "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc", "order_id": "o-1", "reason": "抬头有误"})))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let request = RejectRequest {
        s_pappid: s_pappid(),
        order_id: OrderId::parse("o-1").expect("order"),
        reason: "抬头有误".into(),
        url: None,
    };
    api.reject_insert(&request).await.expect("rejected");
}

#[tokio::test]
async fn errors_become_weixin_errors() {
    let (server, api) = merchant().await;
    setbizattr("get_contact")
        .respond_with(err(
            72063,
            "biz contact is empty, set contact first please rid: 1",
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    setbizattr("get_contact")
        .respond_with(ResponseTemplate::new(503))
        .with_priority(2)
        .mount(&server)
        .await;
    let business = api.contact().await.expect_err("72063");
    assert!(
        matches!(&business, WeixinError::Api { errcode: 72063, errmsg } if errmsg.ends_with("rid: 1"))
    );
    assert_eq!(
        business.class(),
        fapiao_domain::weixin::ErrorClass::Business
    );
    let unavailable = api.contact().await.expect_err("503");
    assert!(
        matches!(unavailable, WeixinError::Unavailable(_)),
        "{unavailable:?}"
    );
}

fn template() -> CardTemplate {
    CardTemplate {
        payee: "某某餐饮管理有限公司".into(),
        invoice_type: "电子发票（普通发票）".into(),
        title: "某某餐饮".into(),
        logo_url: "http://mmbiz.qpic.cn/mmbiz/l/0".into(),
        custom_url: Some(("订单".into(), "https://m.example.cn/o".into(), None)),
        promotion_url: None,
    }
}

fn card_data() -> InvoiceCardData {
    InvoiceCardData {
        fee: Fen::new(11_300),
        title: "某某科技有限公司".into(),
        billing_time: Timestamp::from_unix_seconds(1_700_000_000),
        billing_no: "24442000000000000001".into(),
        billing_code: String::new(),
        info: vec![CardItem {
            name: "*餐饮服务*餐费".into(),
            num: Some(1),
            unit: None,
            price: Fen::new(10_000),
        }],
        fee_without_tax: Fen::new(10_000),
        tax: Fen::new(1_300),
        pdf_media_id: MediaId::parse("3015806758683707").expect("media"),
        trip_pdf_media_id: None,
        check_code: String::new(),
        buyer_number: Some("91440300MA5FXXXX1X".into()),
        buyer_address_and_phone: None,
        buyer_bank_account: None,
        seller_number: Some("91440101MA9XXXXX2Y".into()),
        seller_address_and_phone: None,
        seller_bank_account: None,
        remarks: None,
        cashier: None,
        maker: Some("王五".into()),
    }
}

fn insertion(data: InvoiceCardData) -> CardInsertion {
    CardInsertion {
        order_id: OrderId::parse("o-1").expect("order"),
        card_id: CardId::parse("pjZ8Yt9WoOePThU0NfUKz5-tBEWU").expect("card"),
        appid: crate::support::appid(),
        nonce: "n0nce".into(),
        data,
    }
}

#[tokio::test]
async fn platform_calls_through_the_port() {
    let (server, api) = platform().await;
    post("/card/invoice/seturl")
        .respond_with(ok(json!({"invoice_url": "https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc"})))
        .expect(1)
        .mount(&server)
        .await;
    post("/card/invoice/platform/createcard")
        .and(body_json(
            json!({"invoice_info": {"base_info": {"logo_url": "http://mmbiz.qpic.cn/mmbiz/l/0",
            "title": "某某餐饮", "custom_url_name": "订单", "custom_url": "https://m.example.cn/o"},
            "type": "电子发票（普通发票）", "payee": "某某餐饮管理有限公司"}}),
        ))
        .respond_with(ok(json!({"card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU"})))
        .expect(1)
        .mount(&server)
        .await;
    post("/card/invoice/platform/setpdf")
        .respond_with(ok(json!({"s_media_id": 3015806758683707_u64})))
        .expect(1)
        .mount(&server)
        .await;
    post("/card/invoice/platform/getpdf")
        .and(body_json(json!({"action": "get_url", "s_media_id": "3015806758683707"})))
        .respond_with(ok(json!({"pdf_url": "https://mp.weixin.qq.com/intp/invoice/getpdf?media_key=k", "pdf_url_expire_time": 7200})))
        .expect(1)
        .mount(&server)
        .await;
    post("/card/invoice/insert")
        .and(body_json(json!({"order_id": "o-1", "card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU",
            "appid": crate::support::APPID, "card_ext": {"nonce_str": "n0nce", "user_card": {"invoice_user_data": {
            "fee": 11300, "title": "某某科技有限公司", "billing_time": 1700000000,
            "billing_no": "24442000000000000001", "billing_code": "",
            "info": [{"name": "*餐饮服务*餐费", "num": 1, "price": 10000}],
            "fee_without_tax": 10000, "tax": 1300, "s_pdf_media_id": "3015806758683707", "check_code": "",
            "buyer_number": "91440300MA5FXXXX1X", "seller_number": "91440101MA9XXXXX2Y", "maker": "王五"}}}})))
        .respond_with(ok(json!({"code": "682xxxx661927", "openid": "ojZ8Ytz4lESxxxx_R1TvB2Kds"})))
        .expect(1)
        .mount(&server)
        .await;
    post("/card/invoice/platform/updatestatus")
        .and(body_json(
            json!({"card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", "code": "682xxxx661927",
            "reimburse_status": "INVOICE_REIMBURSE_CANCEL"}),
        ))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(api.platform_id().await.expect("s_pappid"), s_pappid());
    let card_id = api.create_card_template(&template()).await.expect("card");
    assert_eq!(card_id.as_str(), "pjZ8Yt9WoOePThU0NfUKz5-tBEWU");
    let media = api.upload_pdf(b"%PDF-1.7\n%%EOF\n").await.expect("media");
    assert_eq!(media.as_str(), "3015806758683707");
    let url = api.pdf_url(&media).await.expect("url");
    assert_eq!(url.expires_in_seconds, 7200);
    let card = api
        .insert_card(&insertion(card_data()))
        .await
        .expect("inserted");
    assert_eq!(card.code.as_str(), "682xxxx661927");
    assert_eq!(card.openid.as_str(), "ojZ8Ytz4lESxxxx_R1TvB2Kds");
    assert_eq!(card.unionid, None);
    api.update_card_status(
        &card_id,
        &CardCode::parse("682xxxx661927").expect("code"),
        ReimburseStatus::Cancel,
    )
    .await
    .expect("updated");
}

#[tokio::test]
async fn invalid_payloads_are_refused_before_sending() {
    let (server, client) = weixin_maybe_unused().await;
    let api: Arc<dyn WeixinPlatformApi> = Arc::new(client);
    Mock::given(path("/card/invoice/insert"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/card/invoice/platform/createcard"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/card/invoice/platform/setpdf"))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let mut data = card_data();
    data.fee = Fen::new(11_301);
    let refused = api
        .insert_card(&insertion(data))
        .await
        .expect_err("fee mismatch");
    assert!(
        matches!(&refused, WeixinError::Rejected(reason) if reason.contains("invoice_user_data.fee")),
        "{refused:?}"
    );
    let mut long_title = template();
    long_title.title = "某某餐饮管理有限公司广州分店".into();
    let refused = api
        .create_card_template(&long_title)
        .await
        .expect_err("title too long");
    assert!(
        matches!(&refused, WeixinError::Rejected(reason) if reason.contains("base_info.title")),
        "{refused:?}"
    );
    let refused = api
        .upload_pdf(b"PK\x03\x04 not a pdf")
        .await
        .expect_err("not a pdf");
    assert!(matches!(refused, WeixinError::Rejected(_)), "{refused:?}");
}

#[tokio::test]
async fn a_busy_insert_is_not_repeated_by_the_client() {
    let (server, api) = platform().await;
    post("/card/invoice/insert")
        .respond_with(ok(json!({"errcode": -1, "errmsg": "system error"})))
        .expect(1)
        .mount(&server)
        .await;
    let error = api
        .insert_card(&insertion(card_data()))
        .await
        .expect_err("busy");
    assert_eq!(error.errcode(), Some(-1), "{error:?}");
}

#[tokio::test]
async fn unexpected_answers_are_invalid_responses() {
    let (server, api) = platform().await;
    post("/card/invoice/insert")
        .respond_with(ok(json!({"code": "", "openid": "o"})))
        .mount(&server)
        .await;
    post("/card/invoice/seturl")
        .respond_with(ok(
            json!({"invoice_url": "https://mp.weixin.qq.com/bizmall/authinvoice?action=list"}),
        ))
        .mount(&server)
        .await;
    let error = api
        .insert_card(&insertion(card_data()))
        .await
        .expect_err("empty code");
    assert!(
        matches!(&error, WeixinError::InvalidResponse(reason) if reason.contains("code")),
        "{error:?}"
    );
    let error = api.platform_id().await.expect_err("no s_pappid");
    assert!(
        matches!(error, WeixinError::InvalidResponse(_)),
        "{error:?}"
    );
}
