//! What real clients send and Weixin tolerates: JSON without a Content-Type, `null` for
//! optional fields, numbers as strings; and Weixin's own refusals of the rest.

use serde_json::{Value, json};

use crate::support::{OA, OA_SECRET, TestSandbox, appid, authorized_order, personal, setup};

#[tokio::test]
async fn json_without_content_type_and_nulls() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let token = sandbox.raw_token(OA, OA_SECRET).await;

    let set = sandbox
        .raw_post(
            &format!("/card/invoice/setbizattr?action=set_contact&access_token={token}"),
            r#"{"contact":{"phone":"13800000000","time_out":"3600"}}"#,
        )
        .await;
    assert_eq!(set["errcode"], 0, "{set}");
    assert_eq!(set["errmsg"], "ok");

    let ticket = sandbox
        .control_get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=wx_card"
        ))
        .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let body = json!({
        "s_pappid": merchant.s_pappid, "order_id": 20240501001_i64, "money": "3800",
        "timestamp": 1714000000, "source": "web", "redirect_url": null,
        "ticket": ticket, "type": 0, "unknown_field": {"x": 1}
    });
    let answer: Value = sandbox
        .http
        .post(format!(
            "{}/card/invoice/getauthurl?access_token={token}",
            sandbox.base
        ))
        .body(body.to_string())
        .send()
        .await
        .expect("getauthurl")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert!(answer.get("appid").is_none());

    authorized_order(&sandbox, &client, &merchant, "nulls", personal("张三")).await;
    let media = client
        .upload_pdf(&appid(OA), &crate::support::sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let insert = json!({
        "order_id": "nulls", "card_id": merchant.card_id, "appid": OA,
        "card_ext": {"nonce_str": "n", "user_card": {"invoice_user_data": {
            "fee": 3800, "title": "张三", "billing_time": "1714000100",
            "billing_no": "24312000000000000061", "billing_code": null,
            "info": null, "fee_without_tax": 3585, "tax": 215,
            "s_pdf_media_id": media, "s_trip_pdf_media_id": null, "check_code": null,
            "buyer_number": null, "remarks": null
        }}}
    });
    let answer: Value = sandbox
        .http
        .post(format!(
            "{}/card/invoice/insert?access_token={token}",
            sandbox.base
        ))
        .body(insert.to_string())
        .send()
        .await
        .expect("insert")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["errcode"], 0, "{answer}");
}

#[tokio::test]
async fn weixin_style_refusals() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.raw_token(OA, OA_SECRET).await;
    let url = |path: &str| format!("{path}?access_token={token}");

    let malformed = sandbox
        .raw_post(&url("/card/invoice/getauthdata"), "{not json")
        .await;
    assert_eq!(malformed["errcode"], 47001);
    let empty = sandbox
        .raw_post(&url("/card/invoice/getauthdata"), "")
        .await;
    assert_eq!(empty["errcode"], 44002);
    // seturl takes no body.
    let seturl = sandbox.raw_post(&url("/card/invoice/seturl"), "").await;
    assert_eq!(seturl["errcode"], 0);
    let card_ext_string = sandbox
        .raw_post(
            &url("/card/invoice/insert"),
            r#"{"order_id":"a","card_id":"p","appid":"wx","card_ext":"{}"}"#,
        )
        .await;
    assert_eq!(card_ext_string["errcode"], 72031);
    let get: Value = sandbox
        .http
        .get(format!("{}{}", sandbox.base, url("/card/invoice/insert")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(get["errcode"], 43002);
    for answer in [&malformed, &empty, &card_ext_string, &get] {
        let errmsg = answer["errmsg"].as_str().expect("errmsg");
        let (_, rid) = errmsg.rsplit_once(" rid: ").expect("rid suffix");
        assert_eq!(rid.len(), 26, "{errmsg}");
    }
    let unknown = sandbox.control_get("/cgi-bin/nothing").await;
    assert_eq!(unknown["errcode"], -1);
}

#[tokio::test]
async fn malformed_requests_get_errcodes_never_a_crash() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.raw_token(OA, OA_SECRET).await;
    let paths = [
        "/cgi-bin/stable_token",
        "/card/invoice/seturl",
        "/card/invoice/setbizattr?action=set_contact",
        "/card/invoice/setbizattr?action=get_contact",
        "/card/invoice/setbizattr?action=set_auth_field",
        "/card/invoice/setbizattr?action=get_auth_field",
        "/card/invoice/setbizattr?action=set_pay_mch",
        "/card/invoice/setbizattr?action=get_pay_mch",
        "/card/invoice/setbizattr",
        "/card/invoice/getauthurl",
        "/card/invoice/getauthdata",
        "/card/invoice/rejectinsert",
        "/card/invoice/platform/createcard",
        "/card/invoice/platform/setpdf",
        "/card/invoice/platform/getpdf?action=%ZZ",
        "/card/invoice/insert",
        "/card/invoice/platform/updatestatus",
    ];
    let bodies: [&[u8]; 12] = [
        b"",
        b"null",
        b"[]",
        b"{",
        b"\"x\"",
        b"{\"order_id\":{},\"s_pappid\":[1]}",
        b"{\"card_ext\":[1],\"order_id\":\"a\",\"card_id\":\"b\",\"appid\":\"c\"}",
        b"{\"contact\":null,\"auth_field\":7,\"paymch_info\":\"x\"}",
        b"{\"money\":1e400,\"type\":-1}",
        b"{\"money\":99999999999999999999999}",
        b"\xff\xfe\x00garbage",
        b"{\"card_ext\":{\"user_card\":{\"invoice_user_data\":{\"fee\":\"abc\"}}}}",
    ];
    for path in paths {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{separator}access_token={token}", sandbox.base);
        for body in bodies {
            for content_type in [
                "application/json",
                "multipart/form-data; boundary=x",
                "text/plain",
            ] {
                let response = sandbox
                    .http
                    .post(&url)
                    .header("content-type", content_type)
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{path} {body:?}: {e}"));
                assert_eq!(response.status().as_u16(), 200, "{path} {body:?}");
                let answer: Value = response
                    .json()
                    .await
                    .unwrap_or_else(|e| panic!("{path} {body:?}: {e}"));
                assert!(
                    answer["errcode"].is_i64() || answer["access_token"].is_string(),
                    "{path}: {answer}"
                );
            }
        }
    }
    // A very long access token and query.
    let long = "x".repeat(4000);
    let answer = sandbox
        .raw_post(
            &format!("/card/invoice/getauthdata?access_token={long}"),
            "{}",
        )
        .await;
    assert_eq!(answer["errcode"], 40014);
}
