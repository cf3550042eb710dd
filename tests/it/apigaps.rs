#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The merchant API beyond the happy path: the red invoice's PDF, cursor pagination of the
//! order list, and the pushes that matched no order (listed and replayed).

use std::collections::BTreeSet;

use fapiao_domain::Timestamp;
use fapiao_domain::ids::{CardCode, CardId, OpenId};
use fapiao_domain::ports::{EventInbox, RecordOutcome};
use fapiao_domain::weixin::{InvoiceStatusEvent, ReimburseStatus, WeixinEvent};
use fapiao_storage::SeaOrmEventInbox;
use serde_json::{Value, json};

use crate::app::{Db, KEY, order_body, pdf_text, spawn_app};

async fn pdf(app: &crate::app::TestApp, query: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .http
        .get(format!("{}/v1/orders/{query}", app.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        disposition,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// `?kind=red` serves the red invoice once the reversal issued it, the blue one stays the
/// default; before that, and for an unknown kind, the JSON envelope names the problem.
pub async fn the_red_invoice_pdf(kind: Db) {
    let app = spawn_app(kind, "redpdf").await;
    let (status, started) = app
        .api(
            "POST",
            "/v1/orders",
            Some(order_body("official_account", "RED-PDF")),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    app.authorize(
        "RED-PDF",
        "深圳市腾讯计算机系统有限公司",
        Some("91440300708461136T"),
        false,
    )
    .await;
    let delivered = app.wait_for("RED-PDF", "delivered").await;
    let blue = delivered["invoice"]["number"].as_str().unwrap().to_owned();

    let (status, _, body) = pdf(&app, "RED-PDF/pdf?kind=red").await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["code"], "not_found");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no red invoice"),
        "{error}"
    );
    for bad in ["green", "RED", ""] {
        let (status, _, body) = pdf(&app, &format!("RED-PDF/pdf?kind={bad}")).await;
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!("kind")),
            "{bad}: {error}"
        );
    }

    let (status, order) = app
        .api(
            "POST",
            "/v1/orders/RED-PDF/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    let reversed = app.wait_for("RED-PDF", "reversed").await;
    let red = reversed["reversal"]["red_invoice"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(red, blue);

    let (status, disposition, red_pdf) = pdf(&app, "RED-PDF/pdf?kind=red").await;
    assert_eq!(status, 200);
    assert!(red_pdf.starts_with(b"%PDF-"));
    assert_eq!(disposition, "inline; filename=\"fapiao-RED-PDF-red.pdf\"");
    let red_text: String = pdf_text(&red_pdf).split_whitespace().collect();
    assert!(red_text.contains(&red), "red number {red}: {red_text}");
    assert!(
        red_text.contains(&blue),
        "the reversed blue {blue}: {red_text}"
    );
    assert!(red_text.contains("-100.00"), "negated total: {red_text}");

    for query in ["RED-PDF/pdf", "RED-PDF/pdf?kind=blue"] {
        let (status, disposition, blue_pdf) = pdf(&app, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(disposition, "inline; filename=\"fapiao-RED-PDF.pdf\"");
        let blue_text: String = pdf_text(&blue_pdf).split_whitespace().collect();
        assert!(blue_text.contains(&blue), "{query}: {blue_text}");
        assert!(!blue_text.contains(&red), "{query}: {blue_text}");
    }
    app.running.shutdown().await;
}

crate::on_both_databases!(red_invoice_pdf, super::the_red_invoice_pdf);

/// The ids of a page and its cursor.
async fn page(app: &crate::app::TestApp, query: &str) -> (Vec<String>, Option<String>) {
    let (status, list) = app.api("GET", &format!("/v1/orders?{query}"), None).await;
    assert_eq!(status, 200, "{query}: {list}");
    let ids = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect();
    let cursor = match &list["next_cursor"] {
        Value::Null => None,
        Value::String(cursor) => Some(cursor.clone()),
        other => panic!("next_cursor is {other}"),
    };
    (ids, cursor)
}

/// Every order once, page after page, newest first; an order updated between two pages is
/// not seen twice; the last page has no cursor; a bad cursor is refused naming `cursor`.
pub async fn orders_page_by_cursor(kind: Db) {
    let app = spawn_app(kind, "cursor").await;
    let mut created = Vec::new();
    for i in 0..7 {
        let id = format!("PAGE-{i}");
        let (status, started) = app
            .api("POST", "/v1/orders", Some(order_body("qr_code", &id)))
            .await;
        assert_eq!(status, 201, "{started}");
        created.push(id);
    }
    let (newest, _) = page(&app, "limit=500").await;
    assert_eq!(newest.len(), 7);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let (ids, next) = page(&app, &query).await;
        pages += 1;
        if pages == 1 {
            // An order of the first page changes meanwhile: it moves to the front, behind the
            // cursor, and is not served again.
            let (status, rejected) = app
                .api(
                    "POST",
                    &format!("/v1/orders/{}/reject", ids[0]),
                    Some(json!({ "reason": "开票信息有误" })),
                )
                .await;
            assert_eq!(status, 200, "{rejected}");
        }
        seen.extend(ids);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3, "7 orders, 3 a page");
    assert_eq!(seen, newest, "every order once, in order");
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);

    // Exactly a page's worth left: the page is full and still the last.
    let (ids, next) = page(&app, "limit=7").await;
    assert_eq!((ids.len(), next), (7, None));
    // Filters hold across pages: the six orders still created, two a page.
    let mut created_pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let (ids, next) = page(&app, &format!("state=created&limit=2&cursor={cursor}")).await;
        created_pages.push(ids);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let expected: Vec<Vec<String>> = newest[1..].chunks(2).map(<[String]>::to_vec).collect();
    assert_eq!(created_pages, expected);

    for bad in ["nothex", "abc", "5b5d", &"0".repeat(4000), "7b7d"] {
        let (status, error) = app
            .api("GET", &format!("/v1/orders?cursor={bad}"), None)
            .await;
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!("cursor")),
            "{bad}: {error}"
        );
    }
    app.running.shutdown().await;
}

crate::on_both_databases!(orders_cursor_pagination, super::orders_page_by_cursor);

/// A status push stored in the inbox as if Weixin had just delivered it, available to the
/// runner at `available_in_millis` from now (far ahead keeps it from the runner).
async fn inject_status_push(
    app: &crate::app::TestApp,
    card_id: &str,
    code: &str,
    status: ReimburseStatus,
    available_in_millis: i64,
) -> i64 {
    let inbox = SeaOrmEventInbox::new(app._db.as_ref().unwrap().database().clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event = WeixinEvent::InvoiceStatus(InvoiceStatusEvent {
        openid: OpenId::parse("oSandboxBuyer0001").unwrap(),
        create_time: Timestamp::from_millis(now),
        status,
        card_id: CardId::parse(card_id).unwrap(),
        code: CardCode::parse(code).unwrap(),
    });
    let recorded = inbox
        .record(&event, Timestamp::from_millis(now + available_in_millis))
        .await
        .unwrap();
    let RecordOutcome::Recorded(id) = recorded else {
        panic!("{recorded:?}");
    };
    if available_in_millis > 0 {
        // Set aside as the runner does when no order matches (the card was not known yet).
        let at = Timestamp::from_millis(now + available_in_millis);
        let claimed = inbox
            .claim(
                "test",
                100,
                at,
                Timestamp::from_millis(now + 2 * available_in_millis),
            )
            .await
            .unwrap();
        assert!(claimed.iter().any(|item| item.id == id), "{claimed:?}");
        inbox
            .mark_processed(
                id,
                Some(format!("status for unknown card {card_id}/{code}")),
            )
            .await
            .unwrap();
    }
    id
}

async fn unmatched_ids(app: &crate::app::TestApp, query: &str) -> (Vec<Value>, Value) {
    let (status, page) = app
        .api("GET", &format!("/v1/events/unmatched{query}"), None)
        .await;
    assert_eq!(status, 200, "{page}");
    (
        page["events"].as_array().unwrap().clone(),
        page["next_cursor"].clone(),
    )
}

/// A push no order matched is listed with the reason; a replay once its order is there applies
/// it (values checked on the order), and leaves the list; a replay of a push that still
/// matches nothing keeps it listed; applied, unknown and malformed ids are named.
pub async fn unmatched_pushes_are_listed_and_replayed(kind: Db) {
    let app = spawn_app(kind, "unmatched").await;
    let (events, next) = unmatched_ids(&app, "").await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(next, Value::Null);

    // A status push for a card nobody holds: the runner sets it aside.
    let stray = inject_status_push(
        &app,
        "pCardNobody01",
        "000000000001",
        ReimburseStatus::Lock,
        0,
    )
    .await;
    let listed = app
        .poll("the stray push set aside", || async {
            let (events, _) = unmatched_ids(&app, "").await;
            events.into_iter().find(|e| e["id"] == stray)
        })
        .await;
    assert_eq!(listed["kind"], "invoice_status");
    assert_eq!(listed["card_id"], "pCardNobody01");
    assert_eq!(listed["code"], "000000000001");
    assert_eq!(listed["status"], "INVOICE_REIMBURSE_LOCK");
    assert!(
        listed["note"].as_str().unwrap().contains("unknown card"),
        "{listed}"
    );
    for _ in 0..2 {
        let (status, replayed) = app
            .api("POST", &format!("/v1/events/{stray}/replay"), None)
            .await;
        assert_eq!(status, 200, "{replayed}");
        assert_eq!(replayed["outcome"], "unmatched", "{replayed}");
        assert_eq!(replayed["order_id"], Value::Null);
        assert!(replayed["note"].as_str().unwrap().contains("unknown card"));
    }
    let (events, _) = unmatched_ids(&app, "").await;
    assert_eq!(events.len(), 1, "still set aside once: {events:?}");

    // A delivered order; a push about its card that came before the card was known.
    let (status, started) = app
        .api(
            "POST",
            "/v1/orders",
            Some(order_body("official_account", "LATE-CARD")),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    app.authorize(
        "LATE-CARD",
        "深圳市腾讯计算机系统有限公司",
        Some("91440300708461136T"),
        false,
    )
    .await;
    let delivered = app.wait_for("LATE-CARD", "delivered").await;
    let card_id = delivered["card"]["card_id"].as_str().unwrap().to_owned();
    let code = delivered["card"]["code"].as_str().unwrap().to_owned();
    assert_ne!(delivered["card"]["reimbursement"], "INVOICE_REIMBURSE_LOCK");
    let late = inject_status_push(&app, &card_id, &code, ReimburseStatus::Lock, 3_600_000).await;

    // Pages by id: one a page.
    let (first, cursor) = unmatched_ids(&app, "?limit=1").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["id"], stray);
    let cursor = cursor.as_str().unwrap().to_owned();
    let (second, end) = unmatched_ids(&app, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["id"], late);
    assert_eq!(second[0]["card_id"], card_id.as_str());
    assert_eq!(end, Value::Null);

    let (status, replayed) = app
        .api("POST", &format!("/v1/events/{late}/replay"), None)
        .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(
        (
            &replayed["outcome"],
            &replayed["order_id"],
            &replayed["note"]
        ),
        (&json!("applied"), &json!("LATE-CARD"), &Value::Null),
        "{replayed}"
    );
    let (_, order) = app.api("GET", "/v1/orders/LATE-CARD", None).await;
    assert_eq!(
        order["card"]["reimbursement"], "INVOICE_REIMBURSE_LOCK",
        "{order}"
    );
    let (events, _) = unmatched_ids(&app, "").await;
    assert_eq!(
        events.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        [json!(stray)],
        "the applied push left the list"
    );
    // Idempotent: a second replay applies nothing again and says why.
    let (status, again) = app
        .api("POST", &format!("/v1/events/{late}/replay"), None)
        .await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (409, &json!("conflict")),
        "{again}"
    );
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("applied"),
        "{again}"
    );

    let (status, unknown) = app.api("POST", "/v1/events/999999/replay", None).await;
    assert_eq!(
        (status, &unknown["error"]["code"]),
        (404, &json!("not_found")),
        "{unknown}"
    );
    for bad in ["0", "-3", "abc", "1.5", "99999999999999999999"] {
        let (status, error) = app
            .api("POST", &format!("/v1/events/{bad}/replay"), None)
            .await;
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!("event_id")),
            "{bad}: {error}"
        );
    }
    for bad in ["x", "-1", "0"] {
        let (status, error) = app
            .api("GET", &format!("/v1/events/unmatched?cursor={bad}"), None)
            .await;
        assert_eq!(
            (status, &error["error"]["field"]),
            (422, &json!("cursor")),
            "{bad}: {error}"
        );
    }
    app.running.shutdown().await;
}

crate::on_both_databases!(
    unmatched_pushes,
    super::unmatched_pushes_are_listed_and_replayed
);
