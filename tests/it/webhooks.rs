#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Webhooks end to end: a receiver on loopback gets every event of the five scenarios, in order
//! per order, each signature checked independently; while it is down it misses nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::app::*;
use crate::scenarios::{BUYER, BUYER_TAX, deliver, start_order};

const SECRET: &str = "whsec_e2e_0123456789abcdef";

/// One event as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    event_type: String,
    body: Value,
}

/// A merchant's endpoint: verifies every signature, records what it accepts, answers 503
/// while `down`.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    down: AtomicBool,
    refused: AtomicU32,
    bad_signatures: AtomicU32,
}

/// The check a merchant writes from `docs/webhooks.md`: `t=<secs>,v1=<hex>` with
/// v1 = HMAC-SHA256(secret, "<t>.<raw body>").
fn signature_ok(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if receiver.down.load(Ordering::SeqCst) {
        receiver.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if !signature_ok(&header("fapiao-signature"), &body) {
        receiver.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    }
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["id"].as_str().unwrap(), header("fapiao-event-id"));
    assert_eq!(value["type"].as_str().unwrap(), header("fapiao-event-type"));
    receiver.got.lock().unwrap().push(Got {
        id: header("fapiao-event-id"),
        event_type: header("fapiao-event-type"),
        body: value,
    });
    StatusCode::NO_CONTENT
}

async fn spawn_receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (receiver, url)
}

impl Receiver {
    /// Events per order id, in the order they arrived.
    fn by_order(&self) -> BTreeMap<String, Vec<Got>> {
        let mut map: BTreeMap<String, Vec<Got>> = BTreeMap::new();
        for got in self.got.lock().unwrap().iter() {
            let order = got.body["data"]["order_id"].as_str().unwrap().to_owned();
            map.entry(order).or_default().push(got.clone());
        }
        map
    }
}

/// Waits until the receiver holds one event per history entry of `order_id`, then checks them
/// against the order's history: exactly once each, in sequence, with the entry's states.
async fn check_events_of(app: &TestApp, receiver: &Receiver, order_id: &str) -> Vec<Got> {
    let (_, order) = app
        .api("GET", &format!("/v1/orders/{order_id}"), None)
        .await;
    let history = order["history"].as_array().unwrap().clone();
    let events = app
        .poll(&format!("every event of {order_id}"), || async {
            let got = receiver.by_order().remove(order_id).unwrap_or_default();
            (got.len() >= history.len()).then_some(got)
        })
        .await;
    assert_eq!(
        events.len(),
        history.len(),
        "{order_id}: exactly once: {events:#?}"
    );
    for (event, entry) in events.iter().zip(&history) {
        let data = &event.body["data"];
        assert_eq!(
            data["sequence"], entry["seq"],
            "{order_id}: in order: {events:#?}"
        );
        assert_eq!(data["state"], entry["to"], "{order_id}");
        assert_eq!(data["from_state"], entry["from"], "{order_id}");
        assert_eq!(data["cause"], entry["cause"], "{order_id}");
        assert!(event.id.starts_with("evt_"), "{event:?}");
    }
    assert_eq!(events[0].event_type, "order.created");
    events
}

fn hooks_config(url: &str) -> String {
    format!(
        "[[webhooks]]\nname = \"merchant\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         [webhook_delivery]\ninitial_backoff_ms = 50\nmax_backoff_seconds = 1\npoll_interval_ms = 20\n"
    )
}

async fn every_event_in_order(db: Db) {
    let (receiver, url) = spawn_receiver().await;
    let app = spawn_app_with(db, "webhooks", &hooks_config(&url)).await;
    let mut orders = Vec::new();
    for scenario in ["official_account", "qr_code", "app", "mini_program"] {
        let order_id = format!("HOOK-{scenario}");
        deliver(&app, scenario, &order_id).await;
        orders.push(order_id);
    }
    let paid = app
        .control(
            "/sandbox/control/pay",
            json!({ "money": 10000, "receipt": "Y" }),
        )
        .await;
    let paid_id = paid["order"]["order_id"].as_str().unwrap().to_owned();
    start_order(&app, "post_payment", &paid_id).await;
    app.authorize(&paid_id, BUYER, Some(BUYER_TAX), false).await;
    app.wait_for(&paid_id, "delivered").await;
    orders.push(paid_id);
    // A reimbursement status push on the first order.
    let (_, first) = app
        .api("GET", &format!("/v1/orders/{}", orders[0]), None)
        .await;
    app.control(
        "/sandbox/control/reimburse",
        json!({ "card_id": first["card"]["card_id"], "code": first["card"]["code"], "status": "INVOICE_REIMBURSE_LOCK", "wait": true }),
    )
    .await;
    app.wait_until(&orders[0], "locked", |o| {
        o["card"]["reimbursement"] == "INVOICE_REIMBURSE_LOCK"
    })
    .await;

    for order_id in &orders {
        let events = check_events_of(&app, &receiver, order_id).await;
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert!(types.contains(&"invoice.issued"), "{order_id}: {types:?}");
        assert_eq!(
            types.iter().filter(|t| **t == "card.delivered").count(),
            1,
            "{order_id}: {types:?}"
        );
        let delivered = events
            .iter()
            .find(|e| e.event_type == "card.delivered")
            .unwrap();
        let (_, order) = app
            .api("GET", &format!("/v1/orders/{order_id}"), None)
            .await;
        assert_eq!(
            delivered.body["data"]["invoice"]["number"],
            order["invoice"]["number"]
        );
        assert_eq!(
            delivered.body["data"]["card"]["code"],
            order["card"]["code"]
        );
    }
    let first_events = receiver.by_order().remove(&orders[0]).unwrap();
    let last = first_events.last().unwrap();
    assert_eq!(last.event_type, "card.reimbursement_changed");
    assert_eq!(
        last.body["data"]["card"]["reimbursement"],
        "INVOICE_REIMBURSE_LOCK"
    );
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
    // Every body is a WebhookEvent as /openapi.json documents it.
    let doc = app.openapi().await;
    let schema = json!({ "$ref": "#/components/schemas/WebhookEvent" });
    for got in receiver.got.lock().unwrap().iter() {
        let mut problems = Vec::new();
        crate::openapi::violations(&doc, &schema, &got.body, "$", &mut problems);
        assert!(problems.is_empty(), "{problems:#?}\n{:#}", got.body);
    }

    // The endpoint goes down: the next order's events wait and are retried.
    receiver.down.store(true, Ordering::SeqCst);
    deliver(&app, "official_account", "HOOK-DOWN").await;
    app.poll("refused attempts", || async {
        (receiver.refused.load(Ordering::SeqCst) >= 3).then_some(())
    })
    .await;
    assert!(!receiver.by_order().contains_key("HOOK-DOWN"));
    let (status, log) = app
        .api(
            "GET",
            "/v1/webhooks/deliveries?order_id=HOOK-DOWN&status=pending",
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let pending = log["deliveries"].as_array().unwrap();
    assert!(!pending.is_empty(), "{log}");
    let retried = pending
        .iter()
        .find(|d| d["attempts"].as_u64().unwrap_or(0) >= 1)
        .unwrap_or_else(|| panic!("an attempted delivery: {log:#}"));
    assert_eq!(retried["last_status"], 503, "{retried}");
    assert_eq!(retried["endpoint"], "merchant");
    // Back up: everything it missed arrives, still in order.
    receiver.down.store(false, Ordering::SeqCst);
    check_events_of(&app, &receiver, "HOOK-DOWN").await;

    // Redelivery on demand sends one event again, with its id.
    let (_, log) = app
        .api(
            "GET",
            &format!(
                "/v1/webhooks/deliveries?order_id={}&status=delivered",
                orders[1]
            ),
            None,
        )
        .await;
    let one = &log["deliveries"][0];
    let (status, answer) = app
        .api(
            "POST",
            &format!("/v1/webhooks/deliveries/{}/redeliver", one["id"]),
            None,
        )
        .await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("pending")),
        "{answer}"
    );
    let event_id = one["event_id"].as_str().unwrap().to_owned();
    app.poll("the redelivered event", || async {
        let n = receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.id == event_id)
            .count();
        (n == 2).then_some(())
    })
    .await;
    // The console shows the same log and redelivers from it (CSRF-checked).
    let console_id = console_redelivers(&app, &orders[2]).await;
    app.poll("the event redelivered from the console", || async {
        let n = receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.id == console_id)
            .count();
        (n == 2).then_some(())
    })
    .await;
    let (status, _) = app
        .api("POST", "/v1/webhooks/deliveries/999999/redeliver", None)
        .await;
    assert_eq!(status, 404);
    let (status, bad) = app
        .api("GET", "/v1/webhooks/deliveries?status=lost", None)
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["error"]["field"], "status");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    every_event_reaches_the_endpoint_in_order,
    super::every_event_in_order
);

/// `value` percent-encoded for a form body.
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Signs in to the console, finds `order_id`'s first delivery in its webhook log, redelivers it
/// through the confirming form; returns the event id the endpoint gets again.
async fn console_redelivers(app: &TestApp, order_id: &str) -> String {
    let signed_in = app
        .http
        .post(format!("{}/console/login", app.base))
        .header("origin", app.base.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("api_key={}", form_value(KEY)))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("fapiao_console="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let get = |path: String| {
        let cookie = cookie.clone();
        async move {
            let page = app
                .http
                .get(format!("{}{path}", app.base))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(page.status().as_u16(), 200, "{path}");
            page.text().await.unwrap()
        }
    };
    let log = get(format!(
        "/console/webhooks?lang=en&status=delivered&order_id={order_id}"
    ))
    .await;
    assert!(log.contains("order.created"), "{log}");
    assert!(log.contains("card.delivered"), "{log}");
    assert!(
        log.contains(&format!("/console/orders/{order_id}")),
        "{log}"
    );
    // The oldest delivery of the order is the last row; its id is in its redeliver link.
    let link = log
        .match_indices("/console/webhooks/")
        .filter_map(|(i, _)| {
            log[i + 18..]
                .split_once("/redeliver")
                .map(|(id, _)| id.to_owned())
        })
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
        .last()
        .unwrap();
    let (_, api_log) = app
        .api(
            "GET",
            &format!("/v1/webhooks/deliveries?order_id={order_id}&limit=200"),
            None,
        )
        .await;
    let row = api_log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_i64().map(|id| id.to_string()) == Some(link.clone()))
        .unwrap_or_else(|| panic!("{link} in {api_log}"))
        .clone();
    let confirm = get(format!("/console/webhooks/{link}/redeliver")).await;
    let csrf = confirm
        .split_once(r#"name="csrf" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .unwrap();
    // Without the token the post is refused and nothing is redelivered.
    let refused = app
        .http
        .post(format!("{}/console/webhooks/{link}/redeliver", app.base))
        .header("cookie", cookie.as_str())
        .header("origin", app.base.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let done = app
        .http
        .post(format!("{}/console/webhooks/{link}/redeliver", app.base))
        .header("cookie", cookie.as_str())
        .header("origin", app.base.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", form_value(&csrf)))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    assert_eq!(
        done.headers()["location"].to_str().unwrap(),
        format!("/console/webhooks?redelivered={link}")
    );
    row["event_id"].as_str().unwrap().to_owned()
}

async fn no_endpoint(db: Db) {
    let app = spawn_app(db, "webhooks_off").await;
    let (status, body) = app.api("GET", "/v1/webhooks/deliveries", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[[webhooks]]"),
        "{body}"
    );
    app.running.shutdown().await;
}

crate::on_both_databases!(
    without_endpoints_the_log_says_how_to_configure_one,
    super::no_endpoint
);
