//! The pages a person clicks: auth page → authorize → the card in Cards & Offers with its PDF.

use fapiao_weixin::wire::GetAuthDataRequest;

use crate::support::{
    OA, TestSandbox, appid, auth_url_request, insert_request, post_form, sample_pdf, setup,
};

#[tokio::test]
async fn auth_page_to_cards_and_offers() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    let request = auth_url_request(&client, OA, &merchant.s_pappid, "page-1", "web", 1).await;
    let auth_url = client
        .execute(&oa, &request)
        .await
        .expect("getauthurl")
        .auth_url;

    let page = sandbox.http.get(&auth_url).send().await.expect("auth page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("¥38.00"), "{html}");
    assert!(html.contains("沙箱餐饮 Sandbox Dining"));
    assert!(html.contains("value=\"company\""));

    // The person picks a company title and authorizes: the form posts back.
    let key = auth_url.split("k=").nth(1).expect("key").to_owned();
    let form = [
        ("s_pappid", merchant.s_pappid.as_str()),
        ("order_id", "page-1"),
        ("k", key.as_str()),
        ("kind", "company"),
        ("title", "沙箱科技有限公司"),
        ("tax_no", "91310000MA1FL8LQ3X"),
        ("action", "authorize"),
    ];
    let done = post_form(&sandbox, "/sandbox/auth", &form).await;
    assert_eq!(done.status().as_u16(), 200);
    let html = done.text().await.expect("html");
    assert!(html.contains("authorized"));
    assert!(html.contains("https://merchant.example/done"));
    let data = client
        .execute(
            &oa,
            &GetAuthDataRequest {
                s_pappid: merchant.s_pappid.clone(),
                order_id: "page-1".to_owned(),
            },
        )
        .await
        .expect("getauthdata");
    let biz = data
        .user_auth_info
        .and_then(|i| i.biz_field)
        .expect("biz_field");
    assert_eq!(biz.tax_no.as_deref(), Some("91310000MA1FL8LQ3X"));
    // The link cannot be used twice.
    let again = sandbox.http.get(&auth_url).send().await.expect("auth page");
    assert!(again.text().await.expect("html").contains("is authorized"));

    // The merchant delivers; the card shows in Cards & Offers and opens its PDF.
    let media = client
        .upload_pdf(&oa, &sample_pdf())
        .await
        .expect("setpdf")
        .s_media_id;
    let card = client
        .execute(
            &oa,
            &insert_request(
                "page-1",
                &merchant.card_id,
                OA,
                &media,
                "24312000000000000091",
            ),
        )
        .await
        .expect("insert");
    let cards_url = format!("{}/sandbox/cards?openid={}", sandbox.base, card.openid);
    let html = sandbox
        .http
        .get(&cards_url)
        .send()
        .await
        .expect("cards")
        .text()
        .await
        .expect("html");
    assert!(html.contains("24312000000000000091"));
    assert!(html.contains("¥38.00"));
    let pdf_link = format!("/sandbox/pdf/{media}");
    assert!(html.contains(&pdf_link), "{html}");
    let pdf = sandbox
        .http
        .get(format!("{}{pdf_link}", sandbox.base))
        .send()
        .await
        .expect("pdf")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(pdf.to_vec(), sample_pdf());

    // The reimburser's button locks it.
    let locked = post_form(
        &sandbox,
        "/sandbox/reimburse",
        &[
            ("card_id", merchant.card_id.as_str()),
            ("code", card.code.as_str()),
            ("status", "INVOICE_REIMBURSE_LOCK"),
            ("back", card.openid.as_str()),
        ],
    )
    .await;
    assert_eq!(
        locked.status().as_u16(),
        200,
        "redirect followed to the cards page"
    );
    assert!(
        locked
            .text()
            .await
            .expect("html")
            .contains("INVOICE_REIMBURSE_LOCK")
    );

    let index = sandbox
        .http
        .get(format!("{}/sandbox", sandbox.base))
        .send()
        .await
        .expect("index")
        .text()
        .await
        .expect("html");
    assert!(index.contains("page-1"));
}

#[tokio::test]
async fn expired_and_forged_links() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    let oa = appid(OA);
    let request = auth_url_request(&client, OA, &merchant.s_pappid, "page-2", "web", 0).await;
    let auth_url = client
        .execute(&oa, &request)
        .await
        .expect("getauthurl")
        .auth_url;
    let forged = auth_url.replace("k=", "k=x");
    let status = sandbox
        .http
        .get(&forged)
        .send()
        .await
        .expect("page")
        .status();
    assert_eq!(status.as_u16(), 404);
    sandbox.sandbox.advance_clock(7200);
    let status = sandbox
        .http
        .get(&auth_url)
        .send()
        .await
        .expect("page")
        .status();
    assert_eq!(status.as_u16(), 410);
}

#[tokio::test]
async fn paying_on_the_overview_page_offers_the_invoice_entry() {
    let sandbox = TestSandbox::start().await;
    let client = sandbox.client();
    let merchant = setup(&client).await;
    client
        .execute(
            &appid(OA),
            &fapiao_weixin::wire::SetPayMchRequest {
                paymch_info: fapiao_weixin::wire::PayMchInfo {
                    mchid: "1900000109".to_owned(),
                    s_pappid: merchant.s_pappid.clone(),
                },
            },
        )
        .await
        .expect("set_pay_mch");
    let html = post_form(
        &sandbox,
        "/sandbox/pay",
        &[("money", "4200"), ("receipt", "Y")],
    )
    .await
    .text()
    .await
    .expect("html");
    assert!(html.contains("¥42.00"));
    assert!(html.contains("/sandbox/auth?"));
}
