use secrecy::ExposeSecret;
use serde_json::json;

use super::*;

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serializes")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).expect("parses")
}

#[test]
fn status_is_lenient() {
    let ok: ApiStatus = from_json(r#"{"access_token":"x","expires_in":7200}"#);
    assert_eq!(ok, ApiStatus::default());
    assert!(ok.is_ok());
    let as_string: ApiStatus = from_json(r#"{"errcode":"0","errmsg":"ok","invoice_url":"u"}"#);
    assert!(as_string.is_ok());
    let err: ApiStatus = from_json(
        r#"{"errcode":72031,"errmsg":"invalid params, s_pappid is empty hint: [qeEIWA06744106]"}"#,
    );
    assert_eq!(err.errcode, 72031);
    let neg: ApiStatus = from_json(r#"{"errcode":-1,"errmsg":null}"#);
    assert_eq!((neg.errcode, neg.errmsg.as_str()), (-1, ""));
}

#[test]
fn token_requests_and_responses() {
    let secret = secrecy::SecretString::from("app-secret");
    let stable = StableTokenRequest {
        grant_type: "client_credential",
        appid: "wx1234567890abcdef",
        secret: &secret,
        force_refresh: false,
    };
    assert_eq!(
        to_json(&stable),
        json!({"grant_type":"client_credential","appid":"wx1234567890abcdef","secret":"app-secret","force_refresh":false})
    );
    assert!(!format!("{stable:?}").contains("app-secret"));
    let token: TokenResponse = from_json(r#"{"access_token":"ACCESS_TOKEN","expires_in":7200}"#);
    assert_eq!(token.access_token.expose_secret(), "ACCESS_TOKEN");
    assert_eq!(token.expires_in, 7200);
    assert!(!format!("{token:?}").contains("ACCESS_TOKEN"));

    assert_eq!(to_json(&TicketRequest::WX_CARD), json!({"type":"wx_card"}));
    let ticket: TicketResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","ticket":"m7RQzjA_ljjEkt-JCoklRM5zrzYr","expires_in":7200}"#,
    );
    assert_eq!(
        ticket.ticket.expose_secret(),
        "m7RQzjA_ljjEkt-JCoklRM5zrzYr"
    );
    assert!(!format!("{ticket:?}").contains("m7RQ"));
}

#[test]
fn seturl_yields_s_pappid() {
    let res: SetUrlResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","invoice_url":"https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=d3xxxxxxxxxxxxxGLSS0wrL14No8c1"}"#,
    );
    assert_eq!(
        res.s_pappid().as_deref(),
        Some("d3xxxxxxxxxxxxxGLSS0wrL14No8c1")
    );
    let plus = SetUrlResponse {
        invoice_url: "https://x/a?s_pappid=d3g1Y2Q4+NTI3%3D%3D&action=list#frag".into(),
    };
    assert_eq!(plus.s_pappid().as_deref(), Some("d3g1Y2Q4+NTI3=="));
    for url in [
        "https://x/a",
        "https://x/a?action=list",
        "https://x/a?s_pappid=",
        "https://x/a?s_pappid=%zz",
    ] {
        let res = SetUrlResponse {
            invoice_url: url.into(),
        };
        assert_eq!(res.s_pappid(), None, "{url}");
    }
}

#[test]
fn setbizattr_bodies() {
    let set = SetContactRequest {
        contact: ContactInfo {
            phone: "88888888".into(),
            time_out: 12345,
        },
    };
    assert_eq!(
        to_json(&set),
        json!({"contact":{"phone":"88888888","time_out":12345}})
    );
    assert_eq!(SetContactRequest::ENDPOINT.action, Some("set_contact"));
    assert_eq!(to_json(&GetContactRequest {}), json!({}));
    let got: GetContactResponse =
        from_json(r#"{"contact":{"phone":"88888888","time_out":12345},"errcode":0,"errmsg":"ok"}"#);
    assert_eq!(got.contact, Some(set.contact));
    let none: GetContactResponse = from_json(r#"{"errcode":0,"errmsg":"ok"}"#);
    assert_eq!(none.contact, None);

    let fields: GetAuthFieldResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","auth_field":{
            "user_field":{"show_title":1,"show_phone":1,"show_email":1,"require_phone":1,"require_email":1,
                          "custom_field":[{"key":"field1","is_require":0,"notice":"..."}]},
            "biz_field":{"show_title":1,"show_tax_no":1,"show_addr":1,"show_phone":1,"show_bank_type":1,
                         "show_bank_no":1,"require_tax_no":1,"require_addr":1,"require_phone":1,
                         "require_bank_type":1,"require_bank_no":1,"custom_field":[{"key":"field2"}]}}}"#,
    );
    let auth_field = fields.auth_field.expect("present");
    assert_eq!(
        auth_field.user_field.custom_field[0].notice.as_deref(),
        Some("...")
    );
    assert_eq!(auth_field.biz_field.require_bank_no, 1);
    assert_eq!(auth_field.biz_field.custom_field[0].is_require, 0);
    let body = to_json(&SetAuthFieldRequest { auth_field });
    assert_eq!(
        body["auth_field"]["biz_field"]["custom_field"],
        json!([{"key":"field2","is_require":0}])
    );
    assert_eq!(body["auth_field"]["user_field"]["show_email"], json!(1));

    let pay = SetPayMchRequest {
        paymch_info: PayMchInfo {
            mchid: "1234".into(),
            s_pappid: "wxabcd".into(),
        },
    };
    assert_eq!(
        to_json(&pay),
        json!({"paymch_info":{"mchid":"1234","s_pappid":"wxabcd"}})
    );
    let got: GetPayMchResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","paymch_info":{"mchid":1234,"s_pappid":"wxabcd"}}"#,
    );
    assert_eq!(got.paymch_info, Some(pay.paymch_info));
}

#[test]
fn getauthurl_and_getauthdata() {
    let req = GetAuthUrlRequest {
        s_pappid: "wxabcd".into(),
        order_id: "1234".into(),
        money: 11,
        timestamp: 1_474_875_876,
        source: "web".into(),
        redirect_url: Some("https://mp.weixin.qq.com".into()),
        ticket: "tttt".into(),
        page_type: 1,
    };
    assert_eq!(
        to_json(&req),
        json!({"s_pappid":"wxabcd","order_id":"1234","money":11,"timestamp":1474875876,"source":"web",
               "redirect_url":"https://mp.weixin.qq.com","ticket":"tttt","type":1})
    );
    assert!(!format!("{req:?}").contains("tttt"));
    let res: GetAuthUrlResponse =
        from_json(r#"{"errcode":0,"errmsg":"ok","auth_url":"https://a","appid":""}"#);
    assert_eq!((res.auth_url.as_str(), res.appid), ("https://a", None));

    let data: GetAuthDataResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","invoice_status":"auth success","auth_time":1480342498,
            "user_auth_info":{
              "user_field":{"title":"Dhxhhx ","phone":"5554545","email":"dhxhxhhx@qq.cind",
                            "custom_field":[{"key":"field1","value":"管理理论"}]},
              "biz_field":{"title":"王xx","tax_no":"6464646766","addr":"后过敏","phone":"1557548768",
                           "bank_type":"仔仔细细","bank_no":"545454646",
                           "custom_field":[{"key":"field2","value":"哈哈哈啊"}]}}}"#,
    );
    assert_eq!(data.invoice_status, "auth success");
    assert_eq!(data.auth_time, Some(1_480_342_498));
    let info = data.user_auth_info.expect("present");
    assert_eq!(
        info.user_field.expect("user").custom_field[0].value,
        "管理理论"
    );
    assert_eq!(
        info.biz_field.expect("biz").bank_type.as_deref(),
        Some("仔仔细细")
    );
    let never: GetAuthDataResponse =
        from_json(r#"{"errcode":0,"errmsg":"ok","invoice_status":"never auth"}"#);
    assert_eq!(
        (never.invoice_status.as_str(), never.auth_time),
        ("never auth", None)
    );

    let reject = RejectInsertRequest {
        s_pappid: "wxabcd".into(),
        order_id: "1234".into(),
        reason: "重复开票".into(),
        url: None,
    };
    assert_eq!(
        to_json(&reject),
        json!({"s_pappid":"wxabcd","order_id":"1234","reason":"重复开票"})
    );
}

#[test]
fn platform_bodies() {
    let card = CreateCardRequest {
        invoice_info: InvoiceInfo {
            base_info: CardBaseInfo {
                logo_url: "http://mmbiz.qpic.cn/mmbiz/x/0".into(),
                title: "xx公司".into(),
                custom_url_name: Some("xyz".into()),
                custom_url: Some("xyz".into()),
                custom_url_sub_title: Some("xyz".into()),
                ..CardBaseInfo::default()
            },
            invoice_type: "广东省增值税普通发票".into(),
            payee: "测试-收款方".into(),
            detail: None,
        },
    };
    assert_eq!(
        to_json(&card),
        json!({"invoice_info":{"base_info":{"logo_url":"http://mmbiz.qpic.cn/mmbiz/x/0","title":"xx公司",
               "custom_url_name":"xyz","custom_url":"xyz","custom_url_sub_title":"xyz"},
               "type":"广东省增值税普通发票","payee":"测试-收款方"}})
    );
    let res: CreateCardResponse =
        from_json(r#"{"errcode":0,"errmsg":"ok","card_id":"pjZ8Yt9WoOePThU0NfUKz5-tBEWU"}"#);
    assert_eq!(res.card_id, "pjZ8Yt9WoOePThU0NfUKz5-tBEWU");

    let pdf: SetPdfResponse =
        from_json(r#"{"errcode":0,"errmsg":"ok","s_media_id":"3015806758683707"}"#);
    assert_eq!(pdf.s_media_id, "3015806758683707");
    let pdf: SetPdfResponse =
        from_json(r#"{"errcode":0,"errmsg":"ok","s_media_id":3015806758683707}"#);
    assert_eq!(pdf.s_media_id, "3015806758683707");

    let get = GetPdfRequest {
        action: Some(GetPdfRequest::ACTION),
        s_media_id: "75195574948725301".into(),
    };
    assert_eq!(
        to_json(&get),
        json!({"action":"get_url","s_media_id":"75195574948725301"})
    );
    let url: GetPdfResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","pdf_url":"https://mp.weixin.qq.com/intp/invoice/getpdf?action=media_pdf&media_key=k","pdf_url_expire_time":7200}"#,
    );
    assert_eq!(url.pdf_url_expire_time, 7200);

    let insert = InsertCardRequest {
        order_id: "111163".into(),
        card_id: "pjZ8Yt9WoOePThU0NfUKz5-tBEWU".into(),
        appid: "wxc0b84a53ed8e8d29".into(),
        card_ext: CardExt {
            nonce_str: "j!Re1WxaHv".into(),
            user_card: UserCard {
                invoice_user_data: InvoiceUserData {
                    fee: 123,
                    title: "灌哥发票".into(),
                    billing_time: 1_468_306_058,
                    billing_no: "4545145712".into(),
                    billing_code: "4541212454512".into(),
                    info: vec![InvoiceItem {
                        name: "牙膏".into(),
                        num: Some(3),
                        unit: Some("个".into()),
                        price: 10000,
                    }],
                    fee_without_tax: 2345,
                    tax: 123,
                    s_pdf_media_id: "s_pdf_media_id_abc123".into(),
                    check_code: "check_code".into(),
                    buyer_number: Some("123456789012345678".into()),
                    ..InvoiceUserData::default()
                },
            },
        },
    };
    assert_eq!(
        to_json(&insert),
        json!({"order_id":"111163","card_id":"pjZ8Yt9WoOePThU0NfUKz5-tBEWU","appid":"wxc0b84a53ed8e8d29",
               "card_ext":{"nonce_str":"j!Re1WxaHv","user_card":{"invoice_user_data":{
                 "fee":123,"title":"灌哥发票","billing_time":1468306058,"billing_no":"4545145712",
                 "billing_code":"4541212454512","info":[{"name":"牙膏","num":3,"unit":"个","price":10000}],
                 "fee_without_tax":2345,"tax":123,"s_pdf_media_id":"s_pdf_media_id_abc123",
                 "check_code":"check_code","buyer_number":"123456789012345678"}}}})
    );
    let res: InsertCardResponse = from_json(
        r#"{"errcode":0,"errmsg":"ok","code":"682xxxx661927","openid":"ojZ8Ytz4lESxxxx_R1TvB2Kds"}"#,
    );
    assert_eq!((res.code.as_str(), res.unionid), ("682xxxx661927", None));

    let status = UpdateStatusRequest {
        card_id: "pjZ8Yt7Um2jYxzneP8GomnxoVFWo".into(),
        code: "186921658591".into(),
        reimburse_status: "INVOICE_REIMBURSE_INIT".into(),
    };
    assert_eq!(
        to_json(&status),
        json!({"card_id":"pjZ8Yt7Um2jYxzneP8GomnxoVFWo","code":"186921658591","reimburse_status":"INVOICE_REIMBURSE_INIT"})
    );
}

const AUTH_SAMPLE: &str = "<xml>
  <ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName>
  <FromUserName><![CDATA[oZI8Fj040-be6rlDohc6gkoPOQTQ]]></FromUserName>
  <CreateTime>1475134700</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[user_authorize_invoice]]></Event>
  <SuccOrderId><![CDATA[1202933957956]]></SuccOrderId>
  <FailOrderId><![CDATA[]]></FailOrderId>
  <AuthorizeAppId><![CDATA[wxf83dd777cffa4eab]]></AuthorizeAppId>
  <Source><![CDATA[web]]></Source>
</xml>";

#[test]
fn authorize_event_sample() {
    let PushEvent::UserAuthorizeInvoice(event) =
        PushEvent::parse(AUTH_SAMPLE.as_bytes()).expect("parses")
    else {
        panic!("not an authorization event");
    };
    assert_eq!(event.header.to_user_name, "gh_fc0a06a20993");
    assert_eq!(event.header.from_user_name, "oZI8Fj040-be6rlDohc6gkoPOQTQ");
    assert_eq!(event.header.create_time, 1_475_134_700);
    assert_eq!(event.succ_order_id.as_deref(), Some("1202933957956"));
    assert_eq!(event.fail_order_id, None);
    assert_eq!(event.authorize_appid.as_deref(), Some("wxf83dd777cffa4eab"));
    assert_eq!(event.source.as_deref(), Some("web"));
    assert_eq!(event.s_pappid, None);
}

#[test]
fn authorize_event_with_appid_and_sp_appid() {
    let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>\
        <CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_authorize_invoice]]></Event>\
        <SuccOrderId><![CDATA[]]></SuccOrderId><FailOrderId><![CDATA[42]]></FailOrderId>\
        <AppId><![CDATA[wxapp]]></AppId><Source><![CDATA[wxa]]></Source><SPAppId><![CDATA[d3h+x==]]></SPAppId></xml>";
    let event = PushEvent::parse(xml.as_bytes()).expect("parses");
    assert_eq!(event.dedupe_key(), "o1:1");
    let PushEvent::UserAuthorizeInvoice(event) = event else {
        panic!("not an authorization event");
    };
    assert_eq!(event.fail_order_id.as_deref(), Some("42"));
    assert_eq!(event.authorize_appid.as_deref(), Some("wxapp"));
    assert_eq!(event.s_pappid.as_deref(), Some("d3h+x=="));
}

#[test]
fn status_event_sample() {
    let xml = "<xml>
  <ToUserName><![CDATA[gh_9e1765b5568e]]></ToUserName>
  <FromUserName><![CDATA[ojZ8Ytz4lESgdWZ34L_R1TvB2Kds]]></FromUserName>
  <CreateTime>1478068440</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[update_invoice_status]]></Event>
  <Status><![CDATA[INVOICE_REIMBURSE_INIT]]></Status>
  <CardId><![CDATA[pjZ8Yt7Um2jYxzneP8GomnxoVFWo]]></CardId>
  <Code><![CDATA[186921658591]]></Code>
</xml>";
    let PushEvent::UpdateInvoiceStatus(event) = PushEvent::parse(xml.as_bytes()).expect("parses")
    else {
        panic!("not a status event");
    };
    assert_eq!(event.status, "INVOICE_REIMBURSE_INIT");
    assert_eq!(event.card_id, "pjZ8Yt7Um2jYxzneP8GomnxoVFWo");
    assert_eq!(event.code, "186921658591");
    let missing = xml.replace("<Code><![CDATA[186921658591]]></Code>", "");
    assert_eq!(
        PushEvent::parse(missing.as_bytes()),
        Err(XmlError::MissingField("Code"))
    );
}

#[test]
fn unknown_events_and_messages_are_kept() {
    let xml = "<xml><ToUserName>gh</ToUserName><FromUserName>o&amp;1</FromUserName><CreateTime>7</CreateTime>\
        <MsgType>event</MsgType><Event>CLICK</Event><EventKey>k&#x4e2d;</EventKey>\
        <ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo><Empty/></xml>";
    let PushEvent::Unknown(event) = PushEvent::parse(xml.as_bytes()).expect("parses") else {
        panic!("not unknown");
    };
    assert_eq!(event.event.as_deref(), Some("CLICK"));
    assert_eq!(event.header.from_user_name, "o&1");
    assert_eq!(event.fields.get("EventKey"), Some("k中"));
    assert_eq!(event.fields.get("Empty"), Some(""));
    let text = "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content></xml>";
    assert!(matches!(
        PushEvent::parse(text.as_bytes()),
        Ok(PushEvent::Unknown(_))
    ));
}

#[test]
fn hostile_or_broken_xml_is_refused() {
    let cases: &[(&str, XmlError)] = &[
        (
            "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>&xxe;</FromUserName></xml>",
            XmlError::EntityDeclaration,
        ),
        ("<!DOCTYPE xml><xml></xml>", XmlError::Doctype),
        (
            "<!doctype xml SYSTEM \"http://x\"><xml></xml>",
            XmlError::Doctype,
        ),
        ("<xml><!ENTITY a \"b\"></xml>", XmlError::EntityDeclaration),
        (
            "<xml><FromUserName>&lol;</FromUserName></xml>",
            XmlError::UndefinedEntity("lol".into()),
        ),
        ("", XmlError::NoRoot),
        ("   ", XmlError::NoRoot),
        (
            "<xml><A>1</A><A>2</A></xml>",
            XmlError::DuplicateField("A".into()),
        ),
        (
            "<xml><FromUserName>o</FromUserName></xml>",
            XmlError::MissingField("CreateTime"),
        ),
        (
            "<xml><FromUserName>o</FromUserName><CreateTime>x</CreateTime></xml>",
            XmlError::InvalidField {
                field: "CreateTime",
                reason: "not an integer".into(),
            },
        ),
    ];
    for (xml, expected) in cases {
        assert_eq!(
            PushEvent::parse(xml.as_bytes()).as_ref(),
            Err(expected),
            "{xml}"
        );
    }
    let deep = format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20));
    assert_eq!(XmlFields::parse(deep.as_bytes()), Err(XmlError::TooDeep));
    assert_eq!(XmlFields::parse(b"\xff\xfe<xml/>"), Err(XmlError::Utf8));
    for broken in [
        "<xml>",
        "<xml></yml>",
        "<xml></xml><xml></xml>",
        "<xml><a></xml>",
        "x<xml/>",
        "<xml><![CDATA[x</xml>",
    ] {
        assert!(
            matches!(
                XmlFields::parse(broken.as_bytes()),
                Err(XmlError::Malformed(_))
            ),
            "{broken}: {:?}",
            XmlFields::parse(broken.as_bytes())
        );
    }
    // A DOCTYPE spelled inside CDATA is content, not a declaration.
    let fine = "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><Content><![CDATA[<!DOCTYPE x>]]></Content></xml>";
    let PushEvent::Unknown(event) = PushEvent::parse(fine.as_bytes()).expect("parses") else {
        panic!("not unknown");
    };
    assert_eq!(event.fields.get("Content"), Some("<!DOCTYPE x>"));
}

#[test]
fn envelope_fields() {
    let fields = XmlFields::parse(
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>",
    )
    .expect("parses");
    let envelope = PushEnvelope::from_fields(&fields);
    assert_eq!(envelope.to_user_name.as_deref(), Some("gh_1"));
    assert_eq!(envelope.encrypt.as_deref(), Some("abc="));
}

mod convert {
    use fapiao_domain::weixin::{AuthData, AuthFields, AuthStatus, Contact, PdfUrl};

    use super::*;

    #[test]
    fn contact_time_out_must_fit() {
        let negative = ContactInfo {
            phone: "1".into(),
            time_out: -1,
        };
        assert!(Contact::try_from(negative).is_err());
        let fine = ContactInfo {
            phone: "1".into(),
            time_out: 600,
        };
        assert_eq!(
            Contact::try_from(fine),
            Ok(Contact {
                phone: "1".into(),
                time_out_seconds: 600
            })
        );
    }

    #[test]
    fn auth_fields_round_trip() {
        let standard = AuthFields::standard();
        assert_eq!(
            AuthFields::from(AuthFieldSetting::from(&standard)),
            standard
        );
    }

    #[test]
    fn undocumented_auth_status_is_kept() {
        let data = AuthData::from(GetAuthDataResponse {
            invoice_status: "auth fail".into(),
            auth_time: Some(0),
            user_auth_info: None,
        });
        assert_eq!(data.status, AuthStatus::Other("auth fail".into()));
        assert_eq!(data.auth_time, None);
    }

    #[test]
    fn empty_urls_are_refused() {
        let empty = GetPdfResponse {
            pdf_url: " ".into(),
            pdf_url_expire_time: 7200,
        };
        assert!(PdfUrl::try_from(empty).is_err());
        let empty = GetAuthUrlResponse {
            auth_url: String::new(),
            appid: None,
        };
        assert!(fapiao_domain::weixin::AuthUrl::try_from(empty).is_err());
    }
}

mod flat_scan {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::push::FlatFields;

    /// What Weixin sends, with and without line breaks between the children.
    #[test]
    fn reads_weixin_pushes_without_the_full_parser() {
        let push = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1475134700</CreateTime>\
                    <FailOrderId><![CDATA[]]></FailOrderId><Empty/><Text>a b</Text></xml>";
        let spaced = "\n<xml>\n  <ToUserName><![CDATA[gh_1]]></ToUserName>\n  <CreateTime>1475134700</CreateTime>\n  \
                      <FailOrderId><![CDATA[]]></FailOrderId>\n<Empty/><Text>a b</Text>\n</xml>\n";
        for text in [push, spaced] {
            let flat = FlatFields::scan(text).expect("the simple shape");
            let expected = XmlFields::parse(text.as_bytes()).expect("parses");
            assert!(flat.iter().eq(expected.iter()), "{text}");
        }
    }

    #[test]
    fn leaves_every_other_shape_to_the_full_parser() {
        for text in [
            "",
            "<xml/>",
            "<?xml version=\"1.0\"?><xml><A>1</A></xml>",
            "<xml><A>1</A><!-- c --></xml>",
            "<xml a=\"1\"><A>1</A></xml>",
            "<xml><A>&lt;</A></xml>",
            "<xml><A>a\r\nb</A></xml>",
            "<xml><A><![CDATA[a\rb]]></A></xml>",
            "<xml><A> <![CDATA[a]]></A></xml>",
            "<xml><A><B>1</B></A></xml>",
            "<xml><A>1</A><A>2</A></xml>",
            "<xml><A>1</a></xml>",
            "<xml><A>1</A></xml><xml/>",
            "<xml><A>1</A></xml>x",
            "<xml><A>1</A>",
        ] {
            assert!(FlatFields::scan(text).is_none(), "{text:?}");
        }
    }

    fn content() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            "abc",
            " ",
            "\n",
            "\r\n",
            "\r",
            "中文",
            ">",
            "]]>",
            "]",
            "&lt;",
            "&amp;",
            "&bogus;",
            "&#x41;",
            "<![CDATA[x]]>",
            "<![CDATA[]]>",
            "<![CDATA[]]]>",
            "<![CDATA[a\rb]]>",
            "<![CDATA[<!DOCTYPE x>]]>",
            "<![CDATA[",
            "<!-- c -->",
            "<B>1</B>",
            "<B/>",
            "<",
            "/",
        ])
    }

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["A", "B", "Ab_1", "x:y", "a-b.c", "1A", "A B", ""])
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            "",
            "\n",
            " \t",
            "\r\n",
            "x",
            "&amp;",
            "<!-- c -->",
        ])
    }

    /// Documents near the simple shape, some of them just outside it.
    fn document() -> impl Strategy<Value = String> {
        let field = (
            name(),
            prop::collection::vec(content(), 0..3),
            separator(),
            any::<u8>(),
        );
        (
            separator(),
            prop::collection::vec(field, 0..6),
            separator(),
            prop::sample::select(vec!["xml", "xml", "root", "x y"]),
        )
            .prop_map(|(lead, fields, tail, root)| {
                let mut text = format!("{lead}<{root}>");
                for (name, parts, separator, shape) in fields {
                    match shape % 8 {
                        0 => text.push_str(&format!("<{name}/>")),
                        1 => text.push_str(&format!("<{name}>{}</{name}", parts.concat())),
                        _ => text.push_str(&format!("<{name}>{}</{name}>", parts.concat())),
                    }
                    text.push_str(separator);
                }
                text.push_str(&format!("</{root}>{tail}"));
                text
            })
    }

    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "<xml>",
            "</xml>",
            "<A>",
            "</A>",
            "<B/>",
            "<![CDATA[",
            "]]>",
            "]",
            "x",
            " ",
            "\r",
            "&amp;",
            "&",
            ">",
            "<",
            "/",
            "<!-- c -->",
            "<?pi?>",
            "<!DOCTYPE x>",
            "<!ENTITY x>",
        ])
    }

    proptest! {
        #[test]
        fn agrees_with_the_full_parser_near_the_simple_shape(text in document()) {
            prop_assert_eq!(XmlFields::parse(text.as_bytes()), XmlFields::parse_full(&text));
            if let Some(flat) = FlatFields::scan(&text) {
                let fields = XmlFields::parse_full(&text).expect("the full parser accepts it too");
                prop_assert!(flat.iter().eq(fields.iter()));
            }
        }

        #[test]
        fn agrees_with_the_full_parser_on_long_cdata(
            content in prop::collection::vec(
                prop::sample::select(vec![b'a', b'a', b'a', b'a', b']', b'>', b'\r', b'<']),
                0..200,
            ),
        ) {
            let content = String::from_utf8(content).expect("ascii");
            let text = format!("<xml><A><![CDATA[{content}]]></A><B>1</B></xml>");
            prop_assert_eq!(XmlFields::parse(text.as_bytes()), XmlFields::parse_full(&text));
        }

        #[test]
        fn agrees_with_the_full_parser_on_fragments(
            parts in prop::collection::vec(fragment(), 0..24),
        ) {
            let text = parts.concat();
            prop_assert_eq!(XmlFields::parse(text.as_bytes()), XmlFields::parse_full(&text));
        }
    }
}
