#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::app::*;

pub const BUYER: &str = "深圳市腾讯计算机系统有限公司";
pub const BUYER_TAX: &str = "91440300708461136T";

pub async fn start_order(app: &TestApp, scenario: &str, order_id: &str) -> Value {
    let mut body = order_body(scenario, order_id);
    if scenario != "official_account" {
        body.as_object_mut().unwrap().remove("redirect_url");
    }
    let (status, started) = app.api("POST", "/v1/orders", Some(body)).await;
    assert_eq!(status, 201, "{scenario}: {started}");
    started
}

/// Opens what the front end got the way the buyer's phone would, and checks it leads to the
/// sandbox's auth page for this order.
async fn open_auth_page(app: &TestApp, scenario: &str, order_id: &str, started: &Value) {
    let action = &started["action"];
    let url = match scenario {
        "official_account" | "app" => action["auth_url"].as_str().unwrap().to_owned(),
        "mini_program" => action["navigate_to_mini_program"]["path"]
            .as_str()
            .unwrap()
            .to_owned(),
        "qr_code" => {
            let short = action["url"].as_str().unwrap();
            let path = short
                .split_once("/q/")
                .map(|(_, t)| format!("/q/{t}"))
                .unwrap();
            let response = app
                .http
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                303,
                "scanning the QR code redirects"
            );
            response.headers()["location"].to_str().unwrap().to_owned()
        }
        _ => return,
    };
    assert!(
        url.starts_with(&app.sandbox) && url.contains(&format!("order_id={order_id}&")),
        "{scenario}: the front end got the sandbox's auth page of this order: {url}"
    );
    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "{scenario}: auth page {url}");
    let html = page.text().await.unwrap();
    // The page names this order and its amount (2 × 28.00 + 44.00).
    assert!(
        html.contains(&format!("<code>{order_id}</code>")),
        "{scenario}: the auth page names the order: {html}"
    );
    assert!(
        html.contains("¥100.00"),
        "{scenario}: the auth page shows the amount: {html}"
    );
}

pub async fn deliver(app: &TestApp, scenario: &str, order_id: &str) -> Value {
    let started = start_order(app, scenario, order_id).await;
    open_auth_page(app, scenario, order_id, &started).await;
    app.authorize(order_id, BUYER, Some(BUYER_TAX), false).await;
    app.wait_for(order_id, "delivered").await
}

async fn check_delivered(app: &TestApp, order: &Value, scenario: &str) {
    let order_id = order["order_id"].as_str().unwrap();
    assert_eq!(order["money"], "100.00", "{scenario}");
    assert_eq!(order["buyer"]["name"], BUYER);
    let number = order["invoice"]["number"].as_str().unwrap();
    // The number is the one the tax platform issued for this order, for this buyer and amount.
    let records = app
        .running
        .sandbox_issuer
        .as_ref()
        .unwrap()
        .ledger()
        .records()
        .await
        .unwrap();
    let issued: Vec<_> = records
        .iter()
        .filter_map(|r| r.invoice().map(|i| (r, i)))
        .filter(|(_, i)| i.number.to_string() == number)
        .collect();
    assert_eq!(
        issued.len(),
        1,
        "{scenario}: {number} issued once: {records:#?}"
    );
    let (record, invoice) = issued[0];
    assert_eq!(record.draft.buyer().name(), BUYER, "{scenario}");
    assert_eq!(
        invoice.totals.total.to_yuan_string(),
        "100.00",
        "{scenario}"
    );
    assert!(invoice.red_of.is_none());
    let card = &order["card"];
    assert_eq!(card["reimbursement"], "INVOICE_REIMBURSE_INIT");
    // The card is in the buyer's Cards & Offers at the sandbox, with its PDF.
    let openid = card["openid"].as_str().unwrap();
    let cards = app
        .sandbox_get(&format!("/sandbox/control/cards?openid={openid}"))
        .await;
    let listed = cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["order_id"] == order_id && c["code"] == card["code"]);
    assert!(listed, "{scenario}: card not in Cards & Offers: {cards:#}");
    let held = cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["order_id"] == order_id)
        .unwrap();
    assert_eq!(
        held["invoice"]["billing_no"], number,
        "{scenario}: the card's invoice"
    );
    assert_eq!(
        held["invoice"]["fee"], 10000,
        "{scenario}: the card's amount in fen"
    );
    assert_eq!(
        held["invoice"]["title"], BUYER,
        "{scenario}: the card's title"
    );
    // The invoice PDF is a real PDF with the buyer's title and the amount in words.
    let pdf = app
        .http
        .get(format!("{}/v1/orders/{order_id}/pdf", app.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdf_text(&bytes);
    let compact: String = text.split_whitespace().collect();
    assert!(
        compact.contains(BUYER),
        "{scenario}: buyer title missing from the PDF text: {text}"
    );
    assert!(
        compact.contains("壹佰圆整"),
        "{scenario}: 大写 missing from the PDF text: {text}"
    );
    assert!(
        compact.contains(number),
        "{scenario}: invoice number {number} missing from the PDF text: {text}"
    );
}

pub async fn every_scenario(db: Db) {
    let app = spawn_app(db, "scenarios").await;
    for scenario in ["official_account", "qr_code", "app", "mini_program"] {
        let order_id = format!("E2E-{scenario}");
        let order = deliver(&app, scenario, &order_id).await;
        check_delivered(&app, &order, scenario).await;
    }
    // Post-payment: the buyer pays with receipt=Y; the merchant registers the payment's id.
    let paid = app
        .control(
            "/sandbox/control/pay",
            json!({ "money": 10000, "receipt": "Y" }),
        )
        .await;
    let order_id = paid["order"]["order_id"].as_str().unwrap().to_owned();
    let started = start_order(&app, "post_payment", &order_id).await;
    assert_eq!(started["action"]["type"], "pay_request_flag");
    assert_eq!(started["action"]["value"], "Y");
    app.authorize(&order_id, BUYER, Some(BUYER_TAX), false)
        .await;
    let order = app.wait_for(&order_id, "delivered").await;
    check_delivered(&app, &order, "post_payment").await;
    app.running.shutdown().await;
}

crate::on_both_databases!(all_five_scenarios_reach_delivered, super::every_scenario);

pub async fn failure_paths(db: Db) {
    let app = spawn_app(db, "failures").await;

    // The buyer's authorization fails.
    start_order(&app, "official_account", "E2E-FAIL").await;
    app.authorize("E2E-FAIL", "张三", None, true).await;
    let order = app.wait_for("E2E-FAIL", "authorization_failed").await;
    assert!(order["invoice"].is_null());

    // The tax platform rejects: the buyer is told why through rejectinsert; a later insert
    // for that order id would be refused by Weixin (72035).
    let issuer = app.running.sandbox_issuer.clone().unwrap();
    issuer.set_mode(fapiao_issuer::SandboxMode::Reject(
        fapiao_domain::ports::IssueRejection {
            reason: "购买方名称与税号不符".into(),
            code: Some("E9999".into()),
            serial_is_dead: true,
        },
    ));
    start_order(&app, "official_account", "E2E-REJECT").await;
    app.authorize("E2E-REJECT", BUYER, Some(BUYER_TAX), false)
        .await;
    let order = app.wait_for("E2E-REJECT", "rejected").await;
    assert_eq!(order["rejection"], "开票失败：购买方名称与税号不符");
    // rejectinsert runs as its own job right after the order is rejected: Weixin saw it.
    let at_weixin = app
        .poll("the sandbox to see rejectinsert", || async {
            let orders = app.sandbox_get("/sandbox/control/orders").await;
            orders
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["order_id"] == "E2E-REJECT" && o["status"] == "rejected")
                .cloned()
        })
        .await;
    assert_eq!(at_weixin["status"], "rejected");
    issuer.set_mode(fapiao_issuer::SandboxMode::default());

    // Operator rejection before issue.
    start_order(&app, "official_account", "E2E-OPREJ").await;
    let (status, order) = app
        .api(
            "POST",
            "/v1/orders/E2E-OPREJ/reject",
            Some(json!({ "reason": "订单已退款" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["state"], "rejected");

    // Delivered, then a reimburser locks the card, then the merchant reverses the invoice while
    // the card is still locked: the red invoice is issued and the card cancelled anyway.
    let order = deliver(&app, "official_account", "E2E-REV").await;
    let blue = order["invoice"]["number"].as_str().unwrap().to_owned();
    let card_id = order["card"]["card_id"].as_str().unwrap().to_owned();
    let code = order["card"]["code"].as_str().unwrap().to_owned();
    app.control("/sandbox/control/reimburse", json!({ "card_id": card_id, "code": code, "status": "INVOICE_REIMBURSE_LOCK", "wait": true })).await;
    let locked = app
        .wait_until("E2E-REV", "the card locked", |o| {
            o["card"]["reimbursement"] == "INVOICE_REIMBURSE_LOCK"
        })
        .await;
    assert_eq!(locked["state"], "delivered");
    let (status, order) = app
        .api(
            "POST",
            "/v1/orders/E2E-REV/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    let order = app.wait_for("E2E-REV", "reversed").await;
    let red = order["reversal"]["red_invoice"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(red, blue);
    // The red invoice at the tax platform reverses exactly this blue invoice, amount negated.
    let records = app
        .running
        .sandbox_issuer
        .as_ref()
        .unwrap()
        .ledger()
        .records()
        .await
        .unwrap();
    let red_invoice = records
        .iter()
        .filter_map(|r| r.invoice())
        .find(|i| i.number.to_string() == red)
        .unwrap_or_else(|| panic!("red invoice {red} is not in the ledger: {records:#?}"));
    assert_eq!(
        red_invoice.red_of.as_ref().map(|l| l.original.to_string()),
        Some(blue.clone())
    );
    assert_eq!(red_invoice.totals.total.to_yuan_string(), "-100.00");
    app.wait_until("E2E-REV", "the card cancelled", |o| {
        o["card"]["reimbursement"] == "INVOICE_REIMBURSE_CANCEL"
    })
    .await;
    let cards = app.sandbox_get("/sandbox/control/cards").await;
    let card = cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code.as_str())
        .cloned()
        .unwrap();
    assert_eq!(card["status"], "INVOICE_REIMBURSE_CANCEL");

    // Bad input names the field and changes nothing.
    let mut bad = order_body("official_account", "E2E-BAD");
    bad["lines"][0]["tax_code"] = json!("307040100000000000");
    let (status, error) = app.api("POST", "/v1/orders", Some(bad)).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["field"], "lines[0].tax_code");
    let (status, _) = app.api("GET", "/v1/orders/E2E-BAD", None).await;
    assert_eq!(status, 404);
    app.running.shutdown().await;
}

crate::on_both_databases!(
    rejection_failed_authorization_status_push_and_reversal,
    super::failure_paths
);
