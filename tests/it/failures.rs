//! Failure paths end to end: Weixin faults then recovery, an insert applied whose answer was
//! lost, needs-attention → `/retry` → delivered, the issuer's outcome-unknown mode, duplicated
//! pushes, and two instances working one database. Each ends by checking values: the invoice
//! number against the sandbox tax platform's ledger, the card at Weixin, the order's history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use fapiao::StartOptions;
use fapiao_app::Config;
use fapiao_issuer::{SandboxIssuer, SandboxMode};
use serde_json::{Value, json};

use crate::app::*;

const BUYER: &str = "深圳市腾讯计算机系统有限公司";
const BUYER_TAX: &str = "91440300708461136T";

async fn start_and_authorize(app: &TestApp, order_id: &str) {
    let (status, started) = app
        .api(
            "POST",
            "/v1/orders",
            Some(order_body("official_account", order_id)),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    app.authorize(order_id, BUYER, Some(BUYER_TAX), false).await;
}

/// The invoices the sandbox tax platform issued, as (number, buyer, total).
async fn ledger(issuer: &SandboxIssuer) -> Vec<(String, String, String)> {
    issuer
        .ledger()
        .records()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.invoice().map(|i| {
                (
                    i.number.to_string(),
                    r.draft.buyer().name().to_owned(),
                    i.totals.total.to_yuan_string(),
                )
            })
        })
        .collect()
}

/// The cards Weixin holds for `order_id`.
async fn cards_of(app_sandbox: &str, http: &reqwest::Client, order_id: &str) -> Vec<Value> {
    let cards: Value = http
        .get(format!("{app_sandbox}/sandbox/control/cards"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    cards["cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["order_id"] == order_id)
        .cloned()
        .collect()
}

/// The states an order went through, in order.
fn states(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap().to_owned())
        .collect()
}

/// The order is delivered with the one invoice the platform issued for it and the one card
/// Weixin holds for it.
async fn check_one_invoice_one_card(app: &TestApp, order: &Value) {
    let order_id = order["order_id"].as_str().unwrap();
    assert_eq!(order["state"], "delivered", "{order:#}");
    let number = order["invoice"]["number"].as_str().unwrap();
    let issuer = app.running.sandbox_issuer.as_ref().unwrap();
    let issued = ledger(issuer).await;
    assert_eq!(
        issued,
        [(number.to_owned(), BUYER.to_owned(), "100.00".to_owned())],
        "{order_id}: one invoice at the tax platform, the order's"
    );
    let cards = cards_of(&app.sandbox, &app.http, order_id).await;
    assert_eq!(cards.len(), 1, "{order_id}: one card at Weixin: {cards:#?}");
    assert_eq!(cards[0]["invoice"]["billing_no"], number);
    if let Some(code) = order["card"]["code"].as_str() {
        assert_eq!(cards[0]["code"], code);
    }
}

/// One fault on each Weixin step of a delivery (nothing applied): every step is retried and
/// the order is delivered once.
pub async fn weixin_faults_then_recovery(db: Db) {
    let app = spawn_app(db, "faults").await;
    let faults = app
        .control(
            "/sandbox/control/faults",
            json!({ "script": [
                { "endpoint": "getauthdata", "fault": "system_error" },
                { "endpoint": "platform.setpdf", "fault": "http_5xx" },
                { "endpoint": "insert", "fault": "quota_exceeded" },
            ] }),
        )
        .await;
    assert_eq!(faults["config"]["script"].as_array().unwrap().len(), 3);
    start_and_authorize(&app, "E2E-FAULTS").await;
    let order = app.wait_for("E2E-FAULTS", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    // Each fault was met (the test proves nothing otherwise).
    let log = app.sandbox_get("/sandbox/control/faults").await;
    let met: BTreeSet<(String, String)> = log["injected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["endpoint"].as_str().unwrap().to_owned(),
                f["fault"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("getauthdata", "system_error"),
        ("insert", "quota_exceeded"),
        ("platform.setpdf", "http_5xx"),
    ]
    .into_iter()
    .map(|(e, f)| (e.to_owned(), f.to_owned()))
    .collect();
    assert_eq!(met, expected, "{log:#}");
    // The retries did not show as states: the pipeline went straight through.
    assert_eq!(
        states(&order),
        [
            "created",
            "awaiting_authorization",
            "authorized",
            "issuing",
            "issued",
            "pdf_uploaded",
            "delivered"
        ]
    );
    app.running.shutdown().await;
}

crate::on_both_databases!(
    weixin_faults_on_every_step_are_retried_to_delivered,
    super::weixin_faults_then_recovery
);

/// Weixin applies the insert and the answer never comes back: the repeat is answered "already
/// inserted", the order is delivered with its one card, and (the card-list lookup off) the
/// first status push names the code.
pub async fn insert_applied_then_timeout(db: Db) {
    let app = spawn_app_with(
        db,
        "insert_lost",
        "[weixin]\ntimeout_ms = 400\n[invoicing]\nlookup_lost_card_codes = false\n",
    )
    .await;
    app.control(
        "/sandbox/control/faults",
        json!({ "script": [
            { "endpoint": "insert", "fault": "apply_then_timeout", "delay_ms": 1500 },
        ] }),
    )
    .await;
    start_and_authorize(&app, "E2E-LOST").await;
    let order = app.wait_for("E2E-LOST", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    let cards = cards_of(&app.sandbox, &app.http, "E2E-LOST").await;
    let code = cards[0]["code"].as_str().unwrap().to_owned();
    let card_id = cards[0]["card_id"].as_str().unwrap().to_owned();
    assert!(order["card"]["code"].is_null(), "{order:#}");
    // A reimburser's status push names the card: now the order knows its code.
    app.control("/sandbox/control/reimburse", json!({ "card_id": card_id, "code": code, "status": "INVOICE_REIMBURSE_LOCK", "wait": true })).await;
    // The code is learned and the status applied (two saves: wait for both).
    let order = app
        .wait_until("E2E-LOST", "the card code learned and locked", |o| {
            o["card"]["code"] == code.as_str()
                && o["card"]["reimbursement"] == "INVOICE_REIMBURSE_LOCK"
        })
        .await;
    assert_eq!(order["state"], "delivered");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    an_insert_applied_whose_answer_was_lost_ends_with_one_card,
    super::insert_applied_then_timeout
);

/// The same lost insert answer with the card-list lookup on (the default): the order is
/// delivered already knowing the code of the one card Weixin holds for it.
pub async fn insert_applied_then_timeout_looked_up(db: Db) {
    let app = spawn_app_with(db, "insert_lookup", "[weixin]\ntimeout_ms = 400\n").await;
    app.control(
        "/sandbox/control/faults",
        json!({ "script": [
            { "endpoint": "insert", "fault": "apply_then_timeout", "delay_ms": 1500 },
        ] }),
    )
    .await;
    start_and_authorize(&app, "E2E-LOOKUP").await;
    let order = app.wait_for("E2E-LOOKUP", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    let cards = cards_of(&app.sandbox, &app.http, "E2E-LOOKUP").await;
    assert_eq!(order["card"]["code"], cards[0]["code"], "{order:#}");
    let log = app.sandbox_get("/sandbox/control/faults").await;
    assert_eq!(log["injected"][0]["fault"], "apply_then_timeout", "{log:#}");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    a_lost_insert_answer_is_completed_from_the_card_list,
    super::insert_applied_then_timeout_looked_up
);

/// The tax platform wants the drawer to log in: the order waits for the operator, who retries
/// once the session is back; one invoice, one card.
pub async fn needs_attention_then_retry(db: Db) {
    let app = spawn_app(db, "retry").await;
    let issuer = app.running.sandbox_issuer.clone().unwrap();
    issuer.set_mode(SandboxMode::SessionRequired);
    start_and_authorize(&app, "E2E-RETRY").await;
    let stopped = app.wait_for("E2E-RETRY", "needs_attention").await;
    assert_eq!(stopped["attention"]["resume"], "issuing", "{stopped:#}");
    assert!(stopped["invoice"].is_null());
    assert!(ledger(&issuer).await.is_empty(), "nothing issued yet");
    // Retrying while the session is still missing stops the order again, still without an
    // invoice.
    let (status, body) = app.api("POST", "/v1/orders/E2E-RETRY/retry", None).await;
    assert_eq!(status, 200, "{body}");
    let again = app
        .wait_until("E2E-RETRY", "stopped a second time", |o| {
            o["state"] == "needs_attention" && states(o).len() > states(&stopped).len()
        })
        .await;
    assert!(again["invoice"].is_null());

    issuer.set_mode(SandboxMode::Synchronous);
    let (status, body) = app.api("POST", "/v1/orders/E2E-RETRY/retry", None).await;
    assert_eq!(status, 200, "{body}");
    let order = app.wait_for("E2E-RETRY", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    assert!(order["attention"].is_null());
    // A retry of a delivered order is refused and changes nothing.
    let (status, body) = app.api("POST", "/v1/orders/E2E-RETRY/retry", None).await;
    assert_eq!(status, 409, "{body}");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    needs_attention_then_retry_reaches_delivered_once,
    super::needs_attention_then_retry
);

/// The issue call's answer is lost after the platform issued: the order queries with the same
/// key and is delivered with that invoice, never a second one.
pub async fn issuer_outcome_unknown(db: Db) {
    let app = spawn_app(db, "unknown").await;
    let issuer = app.running.sandbox_issuer.clone().unwrap();
    issuer.set_mode(SandboxMode::OutcomeUnknown);
    start_and_authorize(&app, "E2E-UNKNOWN").await;
    let order = app.wait_for("E2E-UNKNOWN", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    assert!(
        states(&order).contains(&"issue_outcome_unknown".to_owned()),
        "{order:#}"
    );
    assert_eq!(issuer.ledger().records().await.unwrap().len(), 1, "one key");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    issuer_outcome_unknown_is_queried_not_issued_twice,
    super::issuer_outcome_unknown
);

/// Weixin delivers every push twice: the authorization and the status change each act once.
pub async fn duplicate_pushes(db: Db) {
    let app = spawn_app(db, "duplicates").await;
    app.control(
        "/sandbox/control/faults",
        json!({ "duplicate_push_rate": 1.0 }),
    )
    .await;
    start_and_authorize(&app, "E2E-DUP").await;
    let order = app.wait_for("E2E-DUP", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    let code = order["card"]["code"].as_str().unwrap().to_owned();
    let card_id = order["card"]["card_id"].as_str().unwrap().to_owned();
    app.control("/sandbox/control/reimburse", json!({ "card_id": card_id, "code": code, "status": "INVOICE_REIMBURSE_LOCK", "wait": true })).await;
    let order = app
        .wait_until("E2E-DUP", "the card locked", |o| {
            o["card"]["reimbursement"] == "INVOICE_REIMBURSE_LOCK"
        })
        .await;
    // Both pushes were sent twice.
    let pushes = app.sandbox_get("/sandbox/control/pushes").await;
    let copies = pushes
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["duplicate_of"].is_null())
        .count();
    assert_eq!(copies, 2, "{pushes:#}");
    let history = order["history"].as_array().unwrap();
    let authorized = history.iter().filter(|h| h["to"] == "authorized").count();
    assert_eq!(authorized, 1, "{order:#}");
    let locks = history
        .iter()
        .filter(|h| {
            h["cause"]
                .as_str()
                .unwrap()
                .ends_with("-> INVOICE_REIMBURSE_LOCK")
        })
        .count();
    assert_eq!(locks, 1, "{order:#}");
    app.running.shutdown().await;
}

crate::on_both_databases!(duplicated_pushes_act_once, super::duplicate_pushes);

/// Two instances, each with its runner and worker id, on one database and one Weixin: every
/// order is delivered once, whichever instance ran its steps.
pub async fn two_instances(db: Db) {
    const ORDERS: usize = 8;
    const KEY: &str = "two-instances-api-key-0001";
    let test_db = test_db(db, "two_instances").await;
    let weixin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let weixin = format!("http://{}", weixin_listener.local_addr().unwrap());
    let config = |worker: &str| {
        Config::from_toml(&format!(
            "[server]\napi_key = \"{KEY}\"\n[weixin]\nmode = \"live\"\nbase_url = \"{weixin}\"\n[runner]\nworker_id = \"{worker}\"\nconcurrency = 4\nlease_seconds = 2\n{LIVE_CREDENTIALS}[issuer]\nkind = \"sandbox\"\nallow_sandbox_in_live = true\n"
        ))
        .unwrap()
    };
    let start = |worker: &'static str| {
        let config = config(worker);
        let database = test_db.database().clone();
        async move {
            fapiao::start(
                config,
                StartOptions {
                    database: Some(database),
                    listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                    sandbox_listen: None,
                    skip_setup: true,
                    skip_runner: false,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
        }
    };
    // Both instances bind their own port first; Weixin then pushes to the first one.
    let first = start("instance-a").await;
    let second = start("instance-b").await;
    let sandbox = fapiao::sandbox_config(
        &config("instance-a"),
        &format!("{}/weixin/callback", first.base_url()),
    );
    tokio::spawn(async move { fapiao_sandbox::serve(weixin_listener, sandbox).await });
    let http = reqwest::Client::new();
    let api = |base: String, method: &'static str, path: String, body: Option<Value>| {
        let http = http.clone();
        async move {
            let mut request = http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .bearer_auth(KEY);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, report) = api(first.base_url(), "POST", "/v1/setup".into(), None).await;
    assert_eq!(status, 200, "{report}");
    let (_, doctor) = api(first.base_url(), "GET", "/v1/setup/doctor".into(), None).await;
    let s_pappid = doctor["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .trim_start_matches("s_pappid ")
        .to_owned();
    // Orders come in through both instances.
    for i in 0..ORDERS {
        let order_id = format!("TWO-{i:02}");
        let base = if i % 2 == 0 {
            first.base_url()
        } else {
            second.base_url()
        };
        let (status, body) = api(
            base,
            "POST",
            "/v1/orders".into(),
            Some(order_body("official_account", &order_id)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let title = json!({ "kind": "company", "title": BUYER, "tax_no": BUYER_TAX });
        let response = http
            .post(format!("{weixin}/sandbox/control/authorize"))
            .json(&json!({ "s_pappid": s_pappid, "order_id": order_id, "title": title, "wait": true }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let mut numbers = BTreeSet::new();
    for i in 0..ORDERS {
        let order_id = format!("TWO-{i:02}");
        let path = format!("/v1/orders/{order_id}");
        let order = poll(&format!("{order_id} delivered"), || {
            let request = api(second.base_url(), "GET", path.clone(), None);
            async move {
                let (_, order) = request.await;
                (order["state"] == "delivered").then_some(order)
            }
        })
        .await;
        numbers.insert(order["invoice"]["number"].as_str().unwrap().to_owned());
        let cards = cards_of(&weixin, &http, &order_id).await;
        assert_eq!(cards.len(), 1, "{order_id}: one card: {cards:#?}");
        assert_eq!(cards[0]["code"], order["card"]["code"]);
        assert_eq!(
            cards[0]["invoice"]["billing_no"],
            order["invoice"]["number"]
        );
    }
    assert_eq!(numbers.len(), ORDERS, "one invoice number per order");
    let issued: BTreeSet<String> = ledger(first.sandbox_issuer.as_ref().unwrap())
        .await
        .into_iter()
        .map(|(number, _, _)| number)
        .collect();
    assert_eq!(
        issued, numbers,
        "the platform issued exactly the orders' invoices"
    );
    second.shutdown().await;
    first.shutdown().await;
}

crate::on_both_databases!(
    two_instances_on_one_database_deliver_each_order_once,
    super::two_instances
);

/// The tax platform rejects a reversal: the order waits for the operator with the reason, no
/// red invoice exists, the card is untouched; a new reversal request once the platform accepts
/// issues exactly one red invoice and cancels the card.
pub async fn rejected_reversal(db: Db) {
    let app = spawn_app(db, "reversal_rejected").await;
    let issuer = app.running.sandbox_issuer.clone().unwrap();
    start_and_authorize(&app, "E2E-REDREJ").await;
    let delivered = app.wait_for("E2E-REDREJ", "delivered").await;
    let blue = delivered["invoice"]["number"].as_str().unwrap().to_owned();
    issuer.set_mode(SandboxMode::Reject(fapiao_domain::ports::IssueRejection {
        reason: "红字确认单未确认".into(),
        code: Some("E9999".into()),
        serial_is_dead: true,
    }));
    let (status, body) = app
        .api(
            "POST",
            "/v1/orders/E2E-REDREJ/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let stopped = app.wait_for("E2E-REDREJ", "needs_attention").await;
    let reason = stopped["attention"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("rejected the reversal") && reason.contains("红字确认单未确认"),
        "{stopped:#}"
    );
    assert!(stopped["reversal"]["red_invoice"].is_null());
    assert_eq!(stopped["card"]["reimbursement"], "INVOICE_REIMBURSE_INIT");
    assert_eq!(ledger(&issuer).await.len(), 1, "only the blue invoice");

    issuer.set_mode(SandboxMode::Synchronous);
    let (status, body) = app
        .api(
            "POST",
            "/v1/orders/E2E-REDREJ/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reversed = app.wait_for("E2E-REDREJ", "reversed").await;
    let red = reversed["reversal"]["red_invoice"].as_str().unwrap();
    let issued = ledger(&issuer).await;
    assert_eq!(issued.len(), 2, "the blue and one red invoice: {issued:?}");
    assert!(
        issued
            .iter()
            .any(|(number, _, total)| number == red && total == "-100.00"),
        "{issued:?}"
    );
    assert!(issued.iter().any(|(number, _, _)| *number == blue));
    app.wait_until("E2E-REDREJ", "the card cancelled", |o| {
        o["card"]["reimbursement"] == "INVOICE_REIMBURSE_CANCEL"
    })
    .await;
    app.running.shutdown().await;
}

crate::on_both_databases!(
    a_rejected_reversal_waits_for_the_operator_then_reverses_once,
    super::rejected_reversal
);

/// A lost authorization push: Weixin never reaches the callback (the account's callback URL is
/// gone), so only reconciliation can learn that the buyer authorized. The runner asks
/// `getauthdata` for orders waiting longer than `reconcile_after_seconds` every
/// `reconcile_interval_seconds`, and the order is delivered once, with no push received.
pub async fn lost_push_reconciled(db: Db) {
    let app = spawn_app_with(
        db,
        "reconcile",
        // (`config` opens with `[runner]`.)
        "reconcile_interval_seconds = 1\n[invoicing]\nreconcile_after_seconds = 0\n",
    )
    .await;
    app.control(
        "/sandbox/control/accounts/wxsandboxofficial01",
        json!({ "callback_url": "" }),
    )
    .await;
    start_and_authorize(&app, "RECONCILE-1").await;
    let order = app.wait_for("RECONCILE-1", "delivered").await;
    check_one_invoice_one_card(&app, &order).await;
    // The witness that no push did it: Weixin skipped the push (no callback URL).
    let pushes = app.sandbox_get("/sandbox/control/pushes").await;
    let push_states: Vec<&str> = pushes
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["event"] == "user_authorize_invoice")
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(push_states, ["skipped"], "{pushes:#}");
    assert_eq!(
        states(&order)[..3],
        ["created", "awaiting_authorization", "authorized"]
    );
}

crate::on_both_databases!(
    a_lost_authorization_push_is_found_by_reconciliation,
    super::lost_push_reconciled
);
