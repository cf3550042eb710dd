//! The platform APIs: createcard, setpdf, getpdf, insert and updatestatus, and their errcodes.

use fapiao_weixin::GetPdfAction;
use fapiao_weixin::wire::UpdateStatusRequest;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{
    MINI, OA, OA_SECRET, TestSandbox, appid, authorized_order, card_template, errcode,
    insert_request, personal, sample_pdf, setup,
};

#[tokio::test]
async fn createcard_checks_its_fields() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let oa = appid(OA);
    let card = client
        .execute(&oa, &card_template())
        .await
        .expect("createcard");
    assert!(card.card_id.starts_with('p'));
    let mut no_payee = card_template();
    no_payee.invoice_info.payee = String::new();
    let (code, errmsg) = errcode(client.execute(&oa, &no_payee).await);
    assert_eq!(code, 72031);
    assert!(errmsg.contains("payee is empty"));
    let mut long_title = card_template();
    long_title.invoice_info.base_info.title = "一二三四五六七八九十".to_owned();
    assert_eq!(errcode(client.execute(&oa, &long_title).await).0, 72031);
}

async fn upload_raw(sandbox: &TestSandbox, token: &str, part: Part) -> Value {
    sandbox
        .http
        .post(format!(
            "{}/card/invoice/platform/setpdf?access_token={token}",
            sandbox.base
        ))
        .multipart(Form::new().part("pdf", part))
        .send()
        .await
        .expect("setpdf")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn setpdf_and_getpdf() {
    let sandbox = TestSandbox::start().await;
    let oa = appid(OA);
    let token = sandbox.raw_token(OA, OA_SECRET).await;

    // Not a PDF: 72040 (the adapter refuses to send one, so this is by hand).
    let not_pdf = upload_raw(
        &sandbox,
        &token,
        Part::bytes(b"hello".to_vec()).file_name("x.pdf"),
    )
    .await;
    assert_eq!(not_pdf["errcode"], 72040);
    // A part without a content type is fine.
    let ok = upload_raw(&sandbox, &token, Part::bytes(sample_pdf())).await;
    assert_eq!(ok["errcode"], 0);
    assert!(ok["s_media_id"].as_str().is_some_and(|m| m.len() == 17));
    // No pdf part at all.
    let wrong_part = sandbox
        .http
        .post(format!(
            "{}/card/invoice/platform/setpdf?access_token={token}",
            sandbox.base
        ))
        .multipart(Form::new().part("file", Part::bytes(sample_pdf())))
        .send()
        .await
        .expect("setpdf")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(wrong_part["errcode"], 72031);
    // Not multipart at all.
    let json_body = sandbox
        .raw_post(
            &format!("/card/invoice/platform/setpdf?access_token={token}"),
            "{}",
        )
        .await;
    assert_eq!(json_body["errcode"], 72031);

    for placement in [GetPdfAction::Body, GetPdfAction::Query, GetPdfAction::Both] {
        let client = sandbox.client_with(|c| c.getpdf_action = placement);
        let media = client
            .upload_pdf(&oa, &sample_pdf())
            .await
            .expect("setpdf")
            .s_media_id;
        let url = client.get_pdf(&oa, &media).await.expect("getpdf");
        assert_eq!(url.pdf_url_expire_time, 7200);
        let bytes = sandbox
            .http
            .get(&url.pdf_url)
            .send()
            .await
            .expect("pdf")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(bytes.to_vec(), sample_pdf());
    }
    let client = sandbox.client();
    assert_eq!(
        errcode(client.get_pdf(&oa, "12345678901234567").await).0,
        72031
    );
    // Another account's upload is unknown to this one.
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    assert_eq!(errcode(client.get_pdf(&appid(MINI), &media).await).0, 72031);
    let no_action = sandbox
        .raw_post(
            &format!("/card/invoice/platform/getpdf?access_token={token}"),
            r#"{"s_media_id":"1"}"#,
        )
        .await;
    assert_eq!(no_action["errcode"], 72031);

    // Three days later an unused upload is gone: 72040 from getpdf, 404 for its bytes.
    sandbox.sandbox.advance_clock(3 * 24 * 3600);
    let client = sandbox.client();
    assert_eq!(errcode(client.get_pdf(&oa, &media).await).0, 72040);
    let gone = sandbox
        .http
        .get(format!("{}/sandbox/pdf/{media}", sandbox.base))
        .send()
        .await
        .expect("pdf");
    assert_eq!(gone.status().as_u16(), 404);
}

#[tokio::test]
async fn insert_errcodes() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let insert = |order_id: &str, number: &str| {
        insert_request(order_id, &merchant.card_id, OA, &media, number)
    };

    // Never authorized (unknown, and only asked for): 72038.
    assert_eq!(
        errcode(
            client
                .execute(&oa, &insert("ghost", "24312000000000000031"))
                .await
        )
        .0,
        72038
    );
    let pending =
        crate::support::auth_url_request(&client, OA, &merchant.s_pappid, "pending", "web", 0)
            .await;
    client.execute(&oa, &pending).await.expect("getauthurl");
    assert_eq!(
        errcode(
            client
                .execute(&oa, &insert("pending", "24312000000000000031"))
                .await
        )
        .0,
        72038
    );

    authorized_order(&sandbox, &client, &merchant, "order-a", personal("张三")).await;
    // The card template of another account: 72031.
    let other_card = client
        .execute(&appid(MINI), &card_template())
        .await
        .expect("createcard")
        .card_id;
    let mut foreign = insert("order-a", "24312000000000000031");
    foreign.card_id = other_card;
    assert_eq!(errcode(client.execute(&oa, &foreign).await).0, 72031);
    // Another account's token: the order is not under its s_pappid.
    assert_eq!(
        errcode(
            client
                .execute(&appid(MINI), &insert("order-a", "24312000000000000031"))
                .await
        )
        .0,
        72038
    );
    // fee ≠ fee_without_tax + tax: 72031 with the numbers.
    let mut wrong_sum = insert("order-a", "24312000000000000031");
    wrong_sum.card_ext.user_card.invoice_user_data.tax = 216;
    let (code, errmsg) = errcode(client.execute(&oa, &wrong_sum).await);
    assert_eq!(code, 72031);
    assert!(
        errmsg.contains("fee 3800 is not fee_without_tax 3585 + tax 216"),
        "{errmsg}"
    );
    // Missing billing number.
    let (code, errmsg) = errcode(client.execute(&oa, &insert("order-a", "")).await);
    assert_eq!(code, 72031);
    assert!(
        errmsg.starts_with("invalid params, billing no is empty rid: "),
        "{errmsg}"
    );
    // Wrong number length: 72043.
    assert_eq!(
        errcode(client.execute(&oa, &insert("order-a", "123")).await).0,
        72043
    );
    // Unknown media: 72031.
    let mut unknown_media = insert("order-a", "24312000000000000031");
    unknown_media
        .card_ext
        .user_card
        .invoice_user_data
        .s_pdf_media_id = "99999999999999999".to_owned();
    assert_eq!(errcode(client.execute(&oa, &unknown_media).await).0, 72031);

    let inserted = client
        .execute(&oa, &insert("order-a", "24312000000000000031"))
        .await
        .expect("insert");
    // A second insert for the order: 72056.
    assert_eq!(
        errcode(
            client
                .execute(&oa, &insert("order-a", "24312000000000000032"))
                .await
        )
        .0,
        72056
    );
    // The same invoice number for another order: 72042.
    authorized_order(&sandbox, &client, &merchant, "order-b", personal("李四")).await;
    let media_b = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let duplicate = insert_request(
        "order-b",
        &merchant.card_id,
        OA,
        &media_b,
        "24312000000000000031",
    );
    assert_eq!(errcode(client.execute(&oa, &duplicate).await).0, 72042);

    // updatestatus: the card code, not the invoice number; 72038 otherwise.
    let update = |code: &str, status: &str| UpdateStatusRequest {
        card_id: merchant.card_id.clone(),
        code: code.to_owned(),
        reimburse_status: status.to_owned(),
    };
    assert_eq!(
        errcode(
            client
                .execute(
                    &oa,
                    &update("24312000000000000031", "INVOICE_REIMBURSE_LOCK")
                )
                .await
        )
        .0,
        72038
    );
    assert_eq!(
        errcode(
            client
                .execute(&oa, &update(&inserted.code, "INVOICE_REIMBURSE_NONSENSE"))
                .await
        )
        .0,
        72031
    );
    assert_eq!(
        errcode(
            client
                .execute(
                    &appid(MINI),
                    &update(&inserted.code, "INVOICE_REIMBURSE_LOCK")
                )
                .await
        )
        .0,
        72038
    );
    client
        .execute(&oa, &update(&inserted.code, "INVOICE_REIMBURSE_LOCK"))
        .await
        .expect("updatestatus");
    let cards = sandbox.control_get("/sandbox/control/cards").await;
    assert_eq!(cards["cards"][0]["status"], "INVOICE_REIMBURSE_LOCK");
}

#[tokio::test]
async fn expired_media_cannot_be_inserted_but_used_media_stays() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    authorized_order(&sandbox, &client, &merchant, "late", personal("张三")).await;
    authorized_order(&sandbox, &client, &merchant, "early", personal("张三")).await;
    let stale = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let used = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    client
        .execute(
            &oa,
            &insert_request(
                "early",
                &merchant.card_id,
                OA,
                &used,
                "24312000000000000041",
            ),
        )
        .await
        .expect("insert");
    sandbox.sandbox.advance_clock(3 * 24 * 3600 + 1);
    let client = sandbox.client();
    let late = insert_request(
        "late",
        &merchant.card_id,
        OA,
        &stale,
        "24312000000000000042",
    );
    assert_eq!(errcode(client.execute(&oa, &late).await).0, 72040);
    client
        .get_pdf(&oa, &used)
        .await
        .expect("an attached pdf does not expire");
}

#[tokio::test]
async fn strict_transitions_are_configurable() {
    let sandbox = TestSandbox::with(|c| {
        c.unconfirmed.status_transitions = fapiao_sandbox::StatusTransitions::Strict;
    })
    .await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    authorized_order(&sandbox, &client, &merchant, "strict", personal("张三")).await;
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let card = client
        .execute(
            &oa,
            &insert_request(
                "strict",
                &merchant.card_id,
                OA,
                &media,
                "24312000000000000051",
            ),
        )
        .await
        .expect("insert");
    let update = |status: &str| UpdateStatusRequest {
        card_id: merchant.card_id.clone(),
        code: card.code.clone(),
        reimburse_status: status.to_owned(),
    };
    assert_eq!(
        errcode(
            client
                .execute(&oa, &update("INVOICE_REIMBURSE_CLOSURE"))
                .await
        )
        .0,
        72039
    );
    client
        .execute(&oa, &update("INVOICE_REIMBURSE_CANCEL"))
        .await
        .expect("cancel");
    assert_eq!(
        errcode(client.execute(&oa, &update("INVOICE_REIMBURSE_INIT")).await).0,
        72060
    );
    let (status, _) = sandbox
        .control_post(
            "/sandbox/control/reimburse",
            json!({"card_id": merchant.card_id, "code": card.code, "status": "lock"}),
        )
        .await;
    assert_eq!(status, 409);
}
