//! The fidelity guard: the sandbox's answers compared with the literal samples of the reference
//! (`shared/reference/weixin-invoice-api.md`, copied here verbatim), not with the adapter's own
//! structs. An answer may leave out a field the sample marks optional, but never names a field
//! the sample does not have, nor gives one another JSON type.

use serde_json::{Value, json};

use crate::support::{
    Behaviour, Callback, OA, OA_SECRET, TestSandbox, appid, authorized_order, company,
    insert_request, setup,
};

/// §4.1 `getticket` (wx_card).
const TICKET: &str = r#"{"errcode":0,"errmsg":"ok","ticket":"m7RQzjA_ljjEkt-JCoklRM5zrzYr-6PI09QydZmNXXz-opTqMv53aFj1ykRt_AOtvqidqZZsLhCDgwGC6nBDiA","expires_in":7200}"#;
/// §4.2 `seturl`.
const SETURL: &str = r#"{"errcode":0,"errmsg":"ok","invoice_url":"https://mp.weixin.qq.com/bizmall/authinvoice?action=list&s_pappid=d3xxxxxxxxxxxxxGLSS0wrL14No8c1"}"#;
/// §4.3 `setbizattr?action=get_contact`.
const GET_CONTACT: &str =
    r#"{"contact":{"phone":"88888888","time_out":12345},"errcode":0,"errmsg":"ok"}"#;
/// §4.5 `getauthurl` (`appid` only for `source=wxa`).
const AUTH_URL: &str = r#"{"errcode":0,"errmsg":"ok","auth_url":"...","appid":"..."}"#;
/// §4.7 `getauthdata` after a style-1 authorization.
const AUTH_DATA: &str = r#"{"errcode":0,"errmsg":"ok","invoice_status":"auth success","auth_time":1480342498,
 "user_auth_info":{
   "user_field":{"title":"Dhxhhx ","phone":"5554545","email":"dhxhxhhx@qq.cind",
                 "custom_field":[{"key":"field1","value":"管理理论"}]},
   "biz_field":{"title":"王xx","tax_no":"6464646766","addr":"后过敏","phone":"1557548768",
                "bank_type":"仔仔细细","bank_no":"545454646",
                "custom_field":[{"key":"field2","value":"哈哈哈啊"}]}}}"#;
/// §4.7 `getauthdata` before the buyer authorized.
const NEVER_AUTH: &str = r#"{"errcode":0,"errmsg":"ok","invoice_status":"never auth"}"#;
/// §4.13 `insert`.
const INSERT: &str = r#"{"errcode":0,"errmsg":"ok","code":"682xxxx661927","openid":"ojZ8Ytz4lESxxxx_R1TvB2Kds","unionid":"..."}"#;

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `got` against `sample`: the same JSON type everywhere, no field the sample lacks,
/// and every field of the sample present unless its path is in `optional`.
fn same_shape(sample: &str, got: &Value, optional: &[&str]) {
    let sample: Value = serde_json::from_str(sample).expect("the reference sample is JSON");
    let mut problems = Vec::new();
    compare(&sample, got, "", optional, &mut problems);
    assert!(
        problems.is_empty(),
        "the answer differs from the reference sample:\n{}\nanswer: {got:#}",
        problems.join("\n")
    );
}

fn compare(sample: &Value, got: &Value, path: &str, optional: &[&str], problems: &mut Vec<String>) {
    if kind(sample) != kind(got) {
        problems.push(format!(
            "{path}: {} in the sample, {} in the answer",
            kind(sample),
            kind(got)
        ));
        return;
    }
    match (sample, got) {
        (Value::Object(sample), Value::Object(got)) => {
            for (key, value) in got {
                let at = format!("{path}.{key}");
                match sample.get(key) {
                    Some(expected) => compare(expected, value, &at, optional, problems),
                    None => problems.push(format!("{at}: not in the sample")),
                }
            }
            for key in sample.keys() {
                let at = format!("{path}.{key}");
                if !got.contains_key(key) && !optional.contains(&at.as_str()) {
                    problems.push(format!("{at}: missing from the answer"));
                }
            }
        }
        (Value::Array(sample), Value::Array(got)) => {
            if let Some(first) = sample.first() {
                for (i, value) in got.iter().enumerate() {
                    compare(first, value, &format!("{path}[{i}]"), optional, problems);
                }
            }
        }
        _ => {}
    }
}

async fn post(sandbox: &TestSandbox, path: &str, token: &str, body: Value) -> Value {
    sandbox
        .http
        .post(format!(
            "{}{path}{}access_token={token}",
            sandbox.base,
            if path.contains('?') { '&' } else { '?' }
        ))
        .body(body.to_string())
        .send()
        .await
        .expect("call")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn merchant_answers_have_the_reference_shape() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let token = sandbox.raw_token(OA, OA_SECRET).await;

    let ticket = sandbox
        .control_get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=wx_card"
        ))
        .await;
    same_shape(TICKET, &ticket, &[]);

    let seturl = post(&sandbox, "/card/invoice/seturl", &token, json!({})).await;
    same_shape(SETURL, &seturl, &[]);

    let contact = post(
        &sandbox,
        "/card/invoice/setbizattr?action=get_contact",
        &token,
        json!({}),
    )
    .await;
    same_shape(GET_CONTACT, &contact, &[]);

    let body = json!({
        "s_pappid": merchant.s_pappid, "order_id": "fidelity-1", "money": 3800,
        "timestamp": 1714000000, "source": "web", "ticket": ticket["ticket"], "type": 1
    });
    let auth_url = post(&sandbox, "/card/invoice/getauthurl", &token, body).await;
    same_shape(AUTH_URL, &auth_url, &[".appid"]);

    let never = post(
        &sandbox,
        "/card/invoice/getauthdata",
        &token,
        json!({ "s_pappid": merchant.s_pappid, "order_id": "fidelity-1" }),
    )
    .await;
    same_shape(NEVER_AUTH, &never, &[]);

    authorized_order(
        &sandbox,
        &client,
        &merchant,
        "fidelity-2",
        company("深圳市腾讯计算机系统有限公司", "91440300708461136T"),
    )
    .await;
    let data = post(
        &sandbox,
        "/card/invoice/getauthdata",
        &token,
        json!({ "s_pappid": merchant.s_pappid, "order_id": "fidelity-2" }),
    )
    .await;
    // A company title: the personal part and the optional fields the buyer left empty may be
    // absent.
    same_shape(
        AUTH_DATA,
        &data,
        &[
            ".user_auth_info.user_field",
            ".user_auth_info.biz_field.addr",
            ".user_auth_info.biz_field.phone",
            ".user_auth_info.biz_field.bank_type",
            ".user_auth_info.biz_field.bank_no",
            ".user_auth_info.biz_field.custom_field",
        ],
    );
    assert_eq!(data["invoice_status"], "auth success");
    assert_eq!(
        data["user_auth_info"]["biz_field"]["tax_no"],
        "91440300708461136T"
    );

    let media = client
        .upload_pdf(&appid(OA), &crate::support::sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let insert = json!({
        "order_id": "fidelity-2", "card_id": merchant.card_id, "appid": OA,
        "card_ext": {"nonce_str": "n", "user_card": {"invoice_user_data": {
            "fee": 3800, "title": "深圳市腾讯计算机系统有限公司", "billing_time": 1714000100,
            "billing_no": "24312000000000000061", "billing_code": "",
            "info": [{"name": "餐费", "num": 1, "unit": "份", "price": 3800}],
            "fee_without_tax": 3585, "tax": 215, "s_pdf_media_id": media, "check_code": "",
            "buyer_number": "91440300708461136T"
        }}}
    });
    let inserted = post(&sandbox, "/card/invoice/insert", &token, insert).await;
    same_shape(INSERT, &inserted, &[".unionid"]);
}

/// §5.1 `user_authorize_invoice` (official sample).
const AUTHORIZE_PUSH: &str = "<xml>
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
/// §5.2 `update_invoice_status`.
const STATUS_PUSH: &str = "<xml>
  <ToUserName><![CDATA[gh_9e1765b5568e]]></ToUserName>
  <FromUserName><![CDATA[ojZ8Ytz4lESgdWZ34L_R1TvB2Kds]]></FromUserName>
  <CreateTime>1478068440</CreateTime>
  <MsgType><![CDATA[event]]></MsgType>
  <Event><![CDATA[update_invoice_status]]></Event>
  <Status><![CDATA[INVOICE_REIMBURSE_INIT]]></Status>
  <CardId><![CDATA[pjZ8Yt7Um2jYxzneP8GomnxoVFWo]]></CardId>
  <Code><![CDATA[186921658591]]></Code>
</xml>";

/// The elements of a push in order, each as (name, whether its text is CDATA, whether its
/// text is all digits).
fn elements(xml: &str) -> Vec<(String, bool, bool)> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('/') || rest.starts_with('!') || rest.starts_with('?') {
            continue;
        }
        let Some(end) = rest.find('>') else { break };
        let name = rest[..end].to_owned();
        rest = &rest[end + 1..];
        if name == "xml" {
            continue;
        }
        let close = format!("</{name}>");
        let Some(text_end) = rest.find(&close) else {
            break;
        };
        let text = &rest[..text_end];
        found.push((
            name,
            text.starts_with("<![CDATA["),
            !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        ));
        rest = &rest[text_end + close.len()..];
    }
    found
}

#[tokio::test]
async fn pushes_have_the_reference_elements() {
    let sandbox = TestSandbox::start().await;
    let merchant_server = Callback::start(Behaviour::Succeed).await;
    sandbox
        .set_callback(OA, &merchant_server.url, "plain")
        .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    authorized_order(
        &sandbox,
        &client,
        &merchant,
        "fidelity-push",
        company("深圳市腾讯计算机系统有限公司", "91440300708461136T"),
    )
    .await;
    let oa = appid(OA);
    let media = client
        .upload_pdf(&oa, &crate::support::sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let card = client
        .execute(
            &oa,
            &insert_request(
                "fidelity-push",
                &merchant.card_id,
                OA,
                &media,
                "24312000000000000081",
            ),
        )
        .await
        .expect("insert");
    sandbox
        .control_ok(
            "/sandbox/control/reimburse",
            json!({"card_id": merchant.card_id, "code": card.code, "status": "INVOICE_REIMBURSE_LOCK", "wait": true}),
        )
        .await;
    let received = merchant_server.received();
    assert_eq!(received.len(), 2);
    // The reference's captured production payload adds `SPAppId` (the s_pappid) after `Source`;
    // the emulator may emit it, nothing else.
    let mut authorize = elements(&received[0].body);
    if authorize
        .last()
        .is_some_and(|(name, _, _)| name == "SPAppId")
    {
        authorize.pop();
    }
    assert_eq!(authorize, elements(AUTHORIZE_PUSH), "{}", received[0].body);
    assert_eq!(
        elements(&received[1].body),
        elements(STATUS_PUSH),
        "{}",
        received[1].body
    );
    assert!(
        received[0]
            .body
            .contains("<SuccOrderId><![CDATA[fidelity-push]]></SuccOrderId>")
    );
    assert!(
        received[1]
            .body
            .contains("<Status><![CDATA[INVOICE_REIMBURSE_LOCK]]></Status>")
    );
}
