//! Each endpoint's request shape (method, path, query, body) and answer parsing.

use fapiao_weixin::wire::{
    AuthFieldSetting, BizFieldSetting, CardBaseInfo, CardExt, ContactInfo, CreateCardRequest,
    CustomFieldSetting, GetAuthDataRequest, GetAuthFieldRequest, GetAuthUrlRequest,
    GetContactRequest, GetPayMchRequest, InsertCardRequest, InvoiceInfo, InvoiceItem,
    InvoiceUserData, PayMchInfo, RejectInsertRequest, SetAuthFieldRequest, SetContactRequest,
    SetPayMchRequest, UpdateStatusRequest, UserCard, UserFieldSetting,
};
use fapiao_weixin::{CallError, GetPdfAction, ReqwestWeixinClient};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{
    body_json, body_string_contains, header_regex, method, path, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, MockServer};

use crate::support::{TOKEN, appid, err, ok, weixin};

fn post(path_: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(path_))
        .and(query_param("access_token", TOKEN))
}

fn setbizattr(action: &str) -> wiremock::MockBuilder {
    post("/card/invoice/setbizattr").and(query_param("action", action))
}

#[tokio::test]
async fn stable_token_request_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(query_param_is_missing("access_token"))
        .and(body_json(json!({
            "grant_type": "client_credential",
            "appid": crate::support::APPID,
            "secret": crate::support::SECRET,
            "force_refresh": false
        })))
        .respond_with(crate::support::token_answer("T"))
        .expect(1)
        .mount(&server)
        .await;
    let token = crate::support::client(&server)
        .access_token(&appid())
        .await
        .expect("token");
    assert_eq!(token.expose_secret(), "T");
}

#[tokio::test]
async fn classic_token_request_shape() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .and(query_param("grant_type", "client_credential"))
        .and(query_param("appid", crate::support::APPID))
        .and(query_param("secret", crate::support::SECRET))
        .respond_with(crate::support::token_answer("T"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = crate::support::config(&server);
    config.token_endpoint = fapiao_weixin::TokenEndpoint::Classic;
    let client = ReqwestWeixinClient::new(config).expect("client");
    assert_eq!(
        client
            .access_token(&appid())
            .await
            .expect("token")
            .expose_secret(),
        "T"
    );
}

#[tokio::test]
async fn token_endpoint_errors_are_surfaced() {
    let server = MockServer::start().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(err(40125, "invalid appsecret rid: 1"))
        .expect(1)
        .mount(&server)
        .await;
    let error = crate::support::client(&server)
        .access_token(&appid())
        .await
        .expect_err("refused");
    assert!(matches!(error, CallError::Api { errcode: 40125, .. }));
}

#[tokio::test]
async fn getticket_shape_and_cache() {
    let (server, client) = weixin().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/ticket/getticket"))
        .and(query_param("access_token", TOKEN))
        .and(query_param("type", "wx_card"))
        .respond_with(ok(json!({"ticket": "m7RQzjA_ljjEkt", "expires_in": 7200})))
        .expect(1)
        .mount(&server)
        .await;
    for _ in 0..3 {
        let ticket = client.wx_card_ticket(&appid()).await.expect("ticket");
        assert_eq!(ticket.expose_secret(), "m7RQzjA_ljjEkt");
    }
}

#[tokio::test]
async fn seturl_shape_and_s_pappid() {
    let (server, client) = weixin().await;
    post("/card/invoice/seturl")
        .and(body_json(json!({})))
        .respond_with(ok(json!({"invoice_url":
            "https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc"})))
        .expect(1)
        .mount(&server)
        .await;
    let s_pappid = client.fetch_s_pappid(&appid()).await.expect("s_pappid");
    assert_eq!(s_pappid, "d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc");
}

#[tokio::test]
async fn setbizattr_contact() {
    let (server, client) = weixin().await;
    setbizattr("set_contact")
        .and(body_json(
            json!({"contact": {"phone": "88888888", "time_out": 12345}}),
        ))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_contact")
        .and(body_json(json!({})))
        .respond_with(ok(
            json!({"contact": {"phone": "88888888", "time_out": 12345}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let contact = ContactInfo {
        phone: "88888888".into(),
        time_out: 12345,
    };
    client
        .execute(
            &appid(),
            &SetContactRequest {
                contact: contact.clone(),
            },
        )
        .await
        .expect("set");
    let got = client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect("get");
    assert_eq!(got.contact, Some(contact));
}

#[tokio::test]
async fn setbizattr_auth_field() {
    let (server, client) = weixin().await;
    let wire_fields = json!({
        "user_field": {"show_title":1,"show_phone":1,"show_email":0,"require_phone":1,"require_email":0,
                       "custom_field":[{"key":"field1","is_require":0,"notice":"..."}]},
        "biz_field": {"show_title":1,"show_tax_no":1,"show_addr":0,"show_phone":0,"show_bank_type":0,
                      "show_bank_no":0,"require_tax_no":1,"require_addr":0,"require_phone":0,
                      "require_bank_type":0,"require_bank_no":0,"custom_field":[]}
    });
    setbizattr("set_auth_field")
        .and(body_json(json!({"auth_field": wire_fields})))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_auth_field")
        .and(body_json(json!({})))
        .respond_with(ok(json!({"auth_field": wire_fields})))
        .expect(1)
        .mount(&server)
        .await;
    let auth_field = AuthFieldSetting {
        user_field: UserFieldSetting {
            show_title: 1,
            show_phone: 1,
            require_phone: 1,
            custom_field: vec![CustomFieldSetting {
                key: "field1".into(),
                is_require: 0,
                notice: Some("...".into()),
            }],
            ..UserFieldSetting::default()
        },
        biz_field: BizFieldSetting {
            show_title: 1,
            show_tax_no: 1,
            require_tax_no: 1,
            ..BizFieldSetting::default()
        },
    };
    client
        .execute(
            &appid(),
            &SetAuthFieldRequest {
                auth_field: auth_field.clone(),
            },
        )
        .await
        .expect("set");
    let got = client
        .execute(&appid(), &GetAuthFieldRequest {})
        .await
        .expect("get");
    assert_eq!(got.auth_field, Some(auth_field));
}

#[tokio::test]
async fn setbizattr_pay_mch() {
    let (server, client) = weixin().await;
    setbizattr("set_pay_mch")
        .and(body_json(
            json!({"paymch_info": {"mchid": "1234", "s_pappid": "wxabcd"}}),
        ))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    setbizattr("get_pay_mch")
        .and(body_json(json!({})))
        .respond_with(ok(
            json!({"paymch_info": {"mchid": "1234", "s_pappid": "wxabcd"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let info = PayMchInfo {
        mchid: "1234".into(),
        s_pappid: "wxabcd".into(),
    };
    client
        .execute(
            &appid(),
            &SetPayMchRequest {
                paymch_info: info.clone(),
            },
        )
        .await
        .expect("set");
    let got = client
        .execute(&appid(), &GetPayMchRequest {})
        .await
        .expect("get");
    assert_eq!(got.paymch_info, Some(info));
}

#[tokio::test]
async fn getauthurl_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/getauthurl")
        .and(body_json(
            json!({"s_pappid":"wxabcd","order_id":"1234","money":11,"timestamp":1474875876,
            "source":"wxa","ticket":"tttt","type":0}),
        ))
        .respond_with(ok(
            json!({"auth_url": "pages/auth?x=1", "appid": "wx9d4d4ffa781ff3ac"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let request = GetAuthUrlRequest {
        s_pappid: "wxabcd".into(),
        order_id: "1234".into(),
        money: 11,
        timestamp: 1_474_875_876,
        source: "wxa".into(),
        redirect_url: None,
        ticket: "tttt".into(),
        page_type: 0,
    };
    let got = client.execute(&appid(), &request).await.expect("url");
    assert_eq!(got.auth_url, "pages/auth?x=1");
    assert_eq!(got.appid.as_deref(), Some("wx9d4d4ffa781ff3ac"));
}

#[tokio::test]
async fn getauthdata_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/getauthdata")
        .and(body_json(
            json!({"s_pappid": "wx123456", "order_id": "123456"}),
        ))
        .respond_with(ok(
            json!({"invoice_status": "auth success", "auth_time": 1480342498,
            "user_auth_info": {"biz_field": {"title": "王xx", "tax_no": "6464646766"}}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let got = client
        .execute(
            &appid(),
            &GetAuthDataRequest {
                s_pappid: "wx123456".into(),
                order_id: "123456".into(),
            },
        )
        .await
        .expect("data");
    assert_eq!(got.invoice_status, "auth success");
    assert_eq!(got.auth_time, Some(1_480_342_498));
    let biz = got.user_auth_info.and_then(|i| i.biz_field).expect("biz");
    assert_eq!(
        (biz.title.as_str(), biz.tax_no.as_deref()),
        ("王xx", Some("6464646766"))
    );
}

#[tokio::test]
async fn rejectinsert_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/rejectinsert")
        .and(body_json(json!({"s_pappid":"wxabcd","order_id":"1234","reason":"抬头有误","url":"https://m.example.cn/retry"})))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    client
        .execute(
            &appid(),
            &RejectInsertRequest {
                s_pappid: "wxabcd".into(),
                order_id: "1234".into(),
                reason: "抬头有误".into(),
                url: Some("https://m.example.cn/retry".into()),
            },
        )
        .await
        .expect("rejected");
}

#[tokio::test]
async fn createcard_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/platform/createcard")
        .and(body_json(json!({"invoice_info": {
            "base_info": {"logo_url": "http://mmbiz.qpic.cn/mmbiz/l/0", "title": "某某餐饮",
                          "promotion_url_name": "puname", "promotion_url": "purl", "promotion_url_sub_title": "ptitle"},
            "type": "电子发票（普通发票）", "payee": "某某餐饮管理有限公司"}})))
        .respond_with(ok(json!({"card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU"})))
        .expect(1)
        .mount(&server)
        .await;
    let got = client
        .execute(
            &appid(),
            &CreateCardRequest {
                invoice_info: InvoiceInfo {
                    base_info: CardBaseInfo {
                        logo_url: "http://mmbiz.qpic.cn/mmbiz/l/0".into(),
                        title: "某某餐饮".into(),
                        promotion_url_name: Some("puname".into()),
                        promotion_url: Some("purl".into()),
                        promotion_url_sub_title: Some("ptitle".into()),
                        ..CardBaseInfo::default()
                    },
                    invoice_type: "电子发票（普通发票）".into(),
                    payee: "某某餐饮管理有限公司".into(),
                    detail: None,
                },
            },
        )
        .await
        .expect("card");
    assert_eq!(got.card_id, "pjZ8Yt9WoOePThU0NfUKz5-tBEWU");
}

#[tokio::test]
async fn setpdf_is_multipart_with_part_pdf() {
    let (server, client) = weixin().await;
    let pdf = b"%PDF-1.7\n%fake but shaped like one\n%%EOF\n";
    post("/card/invoice/platform/setpdf")
        .and(header_regex(
            "content-type",
            "^multipart/form-data; boundary=.+",
        ))
        .and(body_string_contains(
            "Content-Disposition: form-data; name=\"pdf\"; filename=\"invoice.pdf\"",
        ))
        .and(body_string_contains("Content-Type: application/pdf"))
        .and(body_string_contains("%fake but shaped like one"))
        .respond_with(ok(json!({"s_media_id": "3015806758683707"})))
        .expect(1)
        .mount(&server)
        .await;
    let got = client.upload_pdf(&appid(), pdf).await.expect("uploaded");
    assert_eq!(got.s_media_id, "3015806758683707");
    // Not a PDF: refused before sending (no request reaches the mock).
    let refused = client.upload_pdf(&appid(), b"<html>").await;
    assert!(matches!(refused, Err(CallError::Invalid(_))));
}

#[tokio::test]
async fn getpdf_action_in_body_by_default() {
    let (server, client) = weixin().await;
    post("/card/invoice/platform/getpdf")
        .and(query_param_is_missing("action"))
        .and(body_json(json!({"action": "get_url", "s_media_id": "75195574948725301"})))
        .respond_with(ok(json!({"pdf_url": "https://mp.weixin.qq.com/intp/invoice/getpdf?action=media_pdf&media_key=k",
            "pdf_url_expire_time": 7200})))
        .expect(1)
        .mount(&server)
        .await;
    let got = client
        .get_pdf(&appid(), "75195574948725301")
        .await
        .expect("url");
    assert_eq!(got.pdf_url_expire_time, 7200);
    assert!(got.pdf_url.ends_with("media_key=k"));
}

#[tokio::test]
async fn getpdf_action_in_query_when_configured() {
    let server = MockServer::start().await;
    crate::support::mount_token(&server, TOKEN, 1).await;
    post("/card/invoice/platform/getpdf")
        .and(query_param("action", "get_url"))
        .and(body_json(json!({"s_media_id": "75195574948725301"})))
        .respond_with(ok(json!({"pdf_url": "u", "pdf_url_expire_time": 7200})))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = crate::support::config(&server);
    config.getpdf_action = GetPdfAction::Query;
    let client = ReqwestWeixinClient::new(config).expect("client");
    client
        .get_pdf(&appid(), "75195574948725301")
        .await
        .expect("url");
}

#[tokio::test]
async fn insert_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/insert")
        .and(body_json(json!({
            "order_id": "111163", "card_id": "pjZ8Yt9WoOePThU0NfUKz5-tBEWU", "appid": "wxc0b84a53ed8e8d29",
            "card_ext": {"nonce_str": "j1Re1WxaHv", "user_card": {"invoice_user_data": {
                "fee": 11300, "title": "灌哥发票", "billing_time": 1468306058,
                "billing_no": "24442000000000000001", "billing_code": "",
                "info": [{"name": "*日用杂品*牙膏", "num": 3, "unit": "个", "price": 3333}],
                "fee_without_tax": 10000, "tax": 1300, "s_pdf_media_id": "3015806758683707",
                "check_code": "", "seller_number": "91440300MA5FXXXX1X"}}}})))
        .respond_with(ok(json!({"code": "682xxxx661927", "openid": "ojZ8Ytz4lESxxxx_R1TvB2Kds", "unionid": "u1"})))
        .expect(1)
        .mount(&server)
        .await;
    let got = client
        .execute(
            &appid(),
            &InsertCardRequest {
                order_id: "111163".into(),
                card_id: "pjZ8Yt9WoOePThU0NfUKz5-tBEWU".into(),
                appid: "wxc0b84a53ed8e8d29".into(),
                card_ext: CardExt {
                    nonce_str: "j1Re1WxaHv".into(),
                    user_card: UserCard {
                        invoice_user_data: InvoiceUserData {
                            fee: 11300,
                            title: "灌哥发票".into(),
                            billing_time: 1_468_306_058,
                            billing_no: "24442000000000000001".into(),
                            billing_code: String::new(),
                            info: vec![InvoiceItem {
                                name: "*日用杂品*牙膏".into(),
                                num: Some(3),
                                unit: Some("个".into()),
                                price: 3333,
                            }],
                            fee_without_tax: 10000,
                            tax: 1300,
                            s_pdf_media_id: "3015806758683707".into(),
                            check_code: String::new(),
                            seller_number: Some("91440300MA5FXXXX1X".into()),
                            ..InvoiceUserData::default()
                        },
                    },
                },
            },
        )
        .await
        .expect("inserted");
    assert_eq!(got.code, "682xxxx661927");
    assert_eq!(got.openid, "ojZ8Ytz4lESxxxx_R1TvB2Kds");
    assert_eq!(got.unionid.as_deref(), Some("u1"));
}

#[tokio::test]
async fn updatestatus_shape() {
    let (server, client) = weixin().await;
    post("/card/invoice/platform/updatestatus")
        .and(body_json(
            json!({"card_id": "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", "code": "186921658591",
            "reimburse_status": "INVOICE_REIMBURSE_CANCEL"}),
        ))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    client
        .execute(
            &appid(),
            &UpdateStatusRequest {
                card_id: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo".into(),
                code: "186921658591".into(),
                reimburse_status: "INVOICE_REIMBURSE_CANCEL".into(),
            },
        )
        .await
        .expect("updated");
}

#[tokio::test]
async fn business_errors_are_surfaced_unchanged() {
    let (server, client) = weixin().await;
    setbizattr("get_contact")
        .respond_with(err(
            72063,
            "biz contact is empty, set contact first please hint: [x]",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let error = client
        .execute(&appid(), &GetContactRequest {})
        .await
        .expect_err("business");
    let CallError::Api { errcode, errmsg } = error else {
        panic!("not an api error: {error:?}");
    };
    assert_eq!(errcode, 72063);
    assert_eq!(
        errmsg,
        "biz contact is empty, set contact first please hint: [x]"
    );
}
