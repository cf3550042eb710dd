//! The Nuonuo issuer end to end: the service with `issuer.kind = "nuonuo"` against the Nuonuo
//! emulator over loopback HTTP, with the Weixin sandbox, on SQLite and PostgreSQL. The
//! emulator's invoices are the witness of what was issued.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use fapiao::StartOptions;
use fapiao_app::Config;
use fapiao_sandbox::nuonuo::{
    NuonuoEmulator, NuonuoEmulatorConfig, NuonuoFault, NuonuoFaultKind, serve_emulator,
};
use serde_json::{Value, json};

use crate::app::*;

const BUYER: &str = "深圳市腾讯计算机系统有限公司";
const BUYER_TAX: &str = "91440300708461136T";
const BILLING: &str = "nuonuo.OpeMplatform.requestBillingNew";

async fn emulator(config: NuonuoEmulatorConfig) -> (NuonuoEmulator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let emulator = NuonuoEmulator::new(NuonuoEmulatorConfig {
        public_base_url: Some(base.clone()),
        ..config
    })
    .unwrap();
    tokio::spawn(serve_emulator(listener, emulator.clone()));
    (emulator, base)
}

fn nuonuo_toml(emulator: &str, request_timeout_ms: u64) -> String {
    format!(
        "[issuer]\nkind = \"nuonuo\"\n[issuer.nuonuo]\nenvironment = \"emulator\"\nservices_url = \"{emulator}/open/v1/services\"\ntoken_url = \"{emulator}/accessToken\"\nrequest_timeout_ms = {request_timeout_ms}\n"
    )
}

/// The service in the sandbox profile (Weixin sandbox in-process), issuing at `emulator`.
async fn spawn_nuonuo_app(kind: Db, name: &str, emulator: &str) -> TestApp {
    spawn_nuonuo_app_with(kind, name, emulator, 5_000).await
}

async fn spawn_nuonuo_app_with(
    kind: Db,
    name: &str,
    emulator: &str,
    request_timeout_ms: u64,
) -> TestApp {
    let db = test_db(kind, name).await;
    let options = StartOptions {
        database: Some(db.database().clone()),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sandbox_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        skip_setup: false,
        skip_runner: false,
    };
    let running = fapiao::start(config(&nuonuo_toml(emulator, request_timeout_ms)), options)
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));
    let base = running.base_url();
    let sandbox = running.sandbox_url().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        running,
        http,
        base,
        sandbox,
        _db: Some(db),
    }
}

/// Waits (polls run every 5 s) until the order reaches `state`.
async fn wait_long(app: &TestApp, order_id: &str, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (status, order) = app
            .api("GET", &format!("/v1/orders/{order_id}"), None)
            .await;
        if status == 200 && order["state"] == state {
            return order;
        }
        last = order;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {order_id} never reached {state}: {last:#}");
}

async fn start_order(app: &TestApp, scenario: &str, order_id: &str) -> Value {
    let mut body = order_body(scenario, order_id);
    if scenario != "official_account" {
        body.as_object_mut().unwrap().remove("redirect_url");
    }
    let (status, started) = app.api("POST", "/v1/orders", Some(body)).await;
    assert_eq!(status, 201, "{scenario}: {started}");
    started
}

/// Scans the printed QR code the way the buyer's phone would: the short URL redirects to the
/// sandbox's auth page, which registers the order at Weixin.
async fn scan_qr(app: &TestApp, started: &Value) {
    let short = started["action"]["url"].as_str().unwrap();
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
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let page = app.http.get(&location).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "auth page {location}");
}

async fn deliver(app: &TestApp, scenario: &str, order_id: &str) -> Value {
    let started = start_order(app, scenario, order_id).await;
    if scenario == "qr_code" {
        scan_qr(app, &started).await;
    }
    app.authorize(order_id, BUYER, Some(BUYER_TAX), false).await;
    wait_long(app, order_id, "delivered").await
}

/// The order carries the invoice the emulator issued for it, and its PDF is the emulator's.
async fn check_delivered(app: &TestApp, emulator: &NuonuoEmulator, order: &Value) {
    let order_id = order["order_id"].as_str().unwrap();
    assert_eq!(order["money"], "100.00", "{order_id}");
    let number = order["invoice"]["number"].as_str().unwrap();
    let issued: Vec<_> = emulator
        .invoices()
        .into_iter()
        .filter(|i| i.number == number)
        .collect();
    assert_eq!(
        issued.len(),
        1,
        "{order_id}: {number} not issued by the emulator"
    );
    assert_eq!(issued[0].total, 10_000);
    assert_eq!(issued[0].status, "2");
    assert_eq!(issued[0].order["buyerName"], BUYER);
    assert_eq!(issued[0].order["pushMode"], "-1");
    let pdf = app
        .http
        .get(format!("{}/v1/orders/{order_id}/pdf", app.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    let bytes = pdf.bytes().await.unwrap();
    let text: String = pdf_text(&bytes).split_whitespace().collect();
    assert!(text.contains(BUYER), "{order_id}: {text}");
    assert!(text.contains("壹佰圆整"), "{order_id}: {text}");
    assert!(text.contains(number), "{order_id}: {text}");
}

pub async fn every_scenario(db: Db) {
    let (emulator, url) = emulator(NuonuoEmulatorConfig {
        pending_polls: 0,
        red_polls: 0,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let app = spawn_nuonuo_app(db, "nuonuo_scenarios", &url).await;
    let scenarios = ["official_account", "qr_code", "app", "mini_program"];
    let orders = futures_join(scenarios.iter().map(|scenario| {
        let app = &app;
        async move { deliver(app, scenario, &format!("NN-{scenario}")).await }
    }))
    .await;
    for order in &orders {
        check_delivered(&app, &emulator, order).await;
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
    app.authorize(&order_id, BUYER, Some(BUYER_TAX), false)
        .await;
    let order = wait_long(&app, &order_id, "delivered").await;
    check_delivered(&app, &emulator, &order).await;
    assert_eq!(emulator.invoices().len(), 5, "one invoice per order");
    assert_eq!(emulator.token_calls(), 1, "one token for all of them");
    assert_eq!(emulator.signature_refusals(), 0);

    // A reversal through the 红字确认单 flow.
    let (status, reversing) = app
        .api(
            "POST",
            "/v1/orders/NN-official_account/reverse",
            Some(json!({ "reason": "sales_return" })),
        )
        .await;
    assert_eq!(status, 200, "{reversing}");
    let reversed = wait_long(&app, "NN-official_account", "reversed").await;
    let blue = orders[0]["invoice"]["number"].as_str().unwrap();
    let red_number = reversed["reversal"]["red_invoice"].as_str().unwrap();
    let invoices = emulator.invoices();
    let red = invoices
        .iter()
        .find(|i| i.number == red_number)
        .unwrap_or_else(|| panic!("red {red_number} not at the emulator: {reversed:#}"));
    assert_eq!(red.total, -10_000);
    // Nuonuo's numbering: 1 is 销货退回 (the STA code would be 02).
    assert_eq!(red.red_of, Some((blue.to_owned(), "1".to_owned())));
    assert_eq!(emulator.with_state(|s| s.red_forms.len()), 1);
    app.running.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_all_five_scenarios_and_a_reversal,
    super::every_scenario
);

/// Joins futures without an extra dependency.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await);
    }
    outputs
}

pub async fn pending_over_several_polls(db: Db) {
    let (emulator, url) = emulator(NuonuoEmulatorConfig {
        unknown_polls: 1,
        pending_polls: 2,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let app = spawn_nuonuo_app(db, "nuonuo_pending", &url).await;
    start_order(&app, "official_account", "NN-PENDING").await;
    app.authorize("NN-PENDING", BUYER, Some(BUYER_TAX), false)
        .await;
    let pending = wait_long(&app, "NN-PENDING", "issue_pending").await;
    assert!(pending["invoice"].is_null());
    let order = wait_long(&app, "NN-PENDING", "delivered").await;
    check_delivered(&app, &emulator, &order).await;
    let queries = emulator.with_state(|s| {
        s.calls
            .get("nuonuo.OpeMplatform.queryInvoiceResult")
            .copied()
    });
    // One E9500, two 20s, then 2 (and one more for the PDF link).
    assert!(queries.is_some_and(|q| q >= 4), "{queries:?}");
    assert_eq!(
        emulator.with_state(|s| s.calls.get(BILLING).copied()),
        Some(1)
    );
    assert_eq!(emulator.invoices().len(), 1);
    app.running.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_issue_pending_over_several_polls,
    super::pending_over_several_polls
);

const LIVE_KEY: &str = "nuonuo-e2e-api-key-0001";

async fn live_api(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut request = http
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(LIVE_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Weixin (the sandbox) and Nuonuo (the emulator) outlive the service instances.
struct World {
    weixin: String,
    nuonuo: String,
    emulator: NuonuoEmulator,
    config: Config,
    db: fapiao_storage::testing::TestDatabase,
}

async fn world(
    kind: Db,
    name: &str,
    service: SocketAddr,
    emulator_config: NuonuoEmulatorConfig,
    timeout_ms: u64,
) -> World {
    world_with(kind, name, service, emulator_config, timeout_ms, "").await
}

async fn world_with(
    kind: Db,
    name: &str,
    service: SocketAddr,
    mut emulator_config: NuonuoEmulatorConfig,
    timeout_ms: u64,
    extra: &str,
) -> World {
    let db = test_db(kind, name).await;
    // Live mode runs on the test's own seller, which Nuonuo must know.
    emulator_config.tax_ids.push(LIVE_SELLER_TAX_ID.to_owned());
    let (emulator, nuonuo) = emulator(emulator_config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let weixin = format!("http://{}", listener.local_addr().unwrap());
    let config = Config::from_toml(&format!(
        "[server]\napi_key = \"{LIVE_KEY}\"\n[weixin]\nmode = \"live\"\nbase_url = \"{weixin}\"\n[runner]\nconcurrency = 4\nlease_seconds = 2\n{LIVE_CREDENTIALS}{}{extra}",
        nuonuo_toml(&nuonuo, timeout_ms)
    ))
    .unwrap();
    let sandbox = fapiao::sandbox_config(&config, &format!("http://{service}/weixin/callback"));
    tokio::spawn(async move { fapiao_sandbox::serve(listener, sandbox).await });
    World {
        weixin,
        nuonuo,
        emulator,
        config,
        db,
    }
}

impl World {
    async fn start(&self, listen: SocketAddr) -> fapiao::Running {
        fapiao::start(
            self.config.clone(),
            StartOptions {
                database: Some(self.db.database().clone()),
                listen: Some(listen),
                sandbox_listen: None,
                skip_setup: true,
                skip_runner: false,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
    }

    async fn order(&self, base: &str, order_id: &str) {
        let (status, body) = live_api(
            base,
            "POST",
            "/v1/orders",
            Some(order_body("official_account", order_id)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let (_, doctor) = live_api(base, "GET", "/v1/setup/doctor", None).await;
        let s_pappid = doctor["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .trim_start_matches("s_pappid ")
            .to_owned();
        let title = json!({ "kind": "company", "title": BUYER, "tax_no": BUYER_TAX });
        let response = reqwest::Client::new()
            .post(format!("{}/sandbox/control/authorize", self.weixin))
            .json(&json!({ "s_pappid": s_pappid, "order_id": order_id, "title": title, "wait": true }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    async fn wait(&self, base: &str, order_id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let (_, order) = live_api(base, "GET", &format!("/v1/orders/{order_id}"), None).await;
            if order["state"] == state {
                return order;
            }
            last = order;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{order_id} never reached {state}: {last:#}");
    }
}

async fn free_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

pub async fn crash_between_call_and_save(db: Db) {
    let service = free_port().await;
    let world = world(
        db,
        "nuonuo_crash",
        service,
        NuonuoEmulatorConfig {
            pending_polls: 0,
            ..NuonuoEmulatorConfig::default()
        },
        10_000,
    )
    .await;
    let first = world.start(service).await;
    let base = first.base_url();
    let (status, report) = live_api(&base, "POST", "/v1/setup", None).await;
    assert_eq!(status, 200, "{report}");
    // Nuonuo accepts the issue but its answer is slow: the service dies while waiting.
    world.emulator.push_fault(NuonuoFault {
        method: Some(BILLING.to_owned()),
        kind: NuonuoFaultKind::AppliedThenTimeout { delay_ms: 3_000 },
    });
    world.order(&base, "NN-CRASH").await;
    for _ in 0..200 {
        if !world.emulator.invoices().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        world.emulator.invoices().len(),
        1,
        "the issue reached Nuonuo"
    );
    let (_, order) = live_api(&base, "GET", "/v1/orders/NN-CRASH", None).await;
    assert_eq!(
        order["state"], "issuing",
        "the answer was not saved: {order:#}"
    );
    first.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The restarted service sends the same orderNo again: E9106, queried, issued.
    let second = world.start(service).await;
    let order = world.wait(&base, "NN-CRASH", "delivered").await;
    let invoices = world.emulator.invoices();
    assert_eq!(invoices.len(), 1, "exactly one invoice at Nuonuo");
    assert_eq!(order["invoice"]["number"], invoices[0].number.as_str());
    assert_eq!(
        world.emulator.with_state(|s| s.calls.get(BILLING).copied()),
        Some(2),
        "sent twice under one orderNo"
    );
    second.shutdown().await;
    let _ = world.nuonuo;
}

crate::on_both_databases!(
    nuonuo_crash_between_issue_and_save_issues_once,
    super::crash_between_call_and_save
);

pub async fn token_shared_across_instances(db: Db) {
    let (a_addr, b_addr) = (free_port().await, free_port().await);
    let world = world(
        db,
        "nuonuo_token",
        a_addr,
        NuonuoEmulatorConfig {
            pending_polls: 0,
            ..NuonuoEmulatorConfig::default()
        },
        5_000,
    )
    .await;
    // Started one after the other (SQLite refuses two migrations at once), then working together.
    let a = world.start(a_addr).await;
    let b = world.start(b_addr).await;
    assert_eq!(
        world.emulator.token_calls(),
        0,
        "starting makes no token call"
    );
    let (status, report) = live_api(&a.base_url(), "POST", "/v1/setup", None).await;
    assert_eq!(status, 200, "{report}");
    // Orders through both instances: both runners issue at once.
    for i in 0..4 {
        let base = if i % 2 == 0 {
            a.base_url()
        } else {
            b.base_url()
        };
        world.order(&base, &format!("NN-TOKEN-{i}")).await;
    }
    for i in 0..4 {
        world
            .wait(&a.base_url(), &format!("NN-TOKEN-{i}"), "delivered")
            .await;
    }
    assert_eq!(
        world.emulator.token_calls(),
        1,
        "two instances, one token call"
    );
    a.shutdown().await;
    b.shutdown().await;
    // A restart (on the address Weixin pushes to) reads the stored token.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = world.start(a_addr).await;
    world.order(&c.base_url(), "NN-TOKEN-4").await;
    world.wait(&c.base_url(), "NN-TOKEN-4", "delivered").await;
    assert_eq!(
        world.emulator.token_calls(),
        1,
        "the restart made no token call"
    );
    assert_eq!(world.emulator.invoices().len(), 5);
    // doctor reads the stored count and proves the credentials without a token call.
    let issuer = fapiao::nuonuo::nuonuo_issuer(
        &world.config,
        std::sync::Arc::new(fapiao_storage::SeaOrmTokenCache::new(
            world.db.database().clone(),
        )),
        std::sync::Arc::new(fapiao::SystemClock),
    )
    .unwrap();
    let checks = fapiao::nuonuo::doctor(&issuer).await;
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks.iter().all(|(ok, _, _)| *ok), "{checks:?}");
    assert!(
        checks[1].2.starts_with(
            "1 of 50 token calls used in the last 30 days (5 kept in reserve); token stored"
        ),
        "{checks:?}"
    );
    assert_eq!(world.emulator.token_calls(), 1);
    // The count is visible on /metrics.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", c.base_url()))
        .bearer_auth(LIVE_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fapiao_nuonuo_token_calls_30d"),
        "{metrics}"
    );
    c.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_two_instances_one_token_call_restarts_none,
    super::token_shared_across_instances
);

pub async fn callback_triggers_a_query(db: Db) {
    let service = free_port().await;
    let world = world_with(
        db,
        "nuonuo_callback",
        service,
        NuonuoEmulatorConfig {
            // Only the timer completes the issue; until then every query says 20.
            pending_polls: 1_000,
            complete_after_ms: Some(1_500),
            ..NuonuoEmulatorConfig::default()
        },
        5_000,
        &format!("callback_url = \"http://{service}/nuonuo/callback\"\n"),
    )
    .await;
    let app = world.start(service).await;
    let base = app.base_url();
    let (status, report) = live_api(&base, "POST", "/v1/setup", None).await;
    assert_eq!(status, 200, "{report}");
    world.order(&base, "NN-CALLBACK").await;
    world.wait(&base, "NN-CALLBACK", "issue_pending").await;
    let pending_at = std::time::Instant::now();
    world.wait(&base, "NN-CALLBACK", "delivered").await;
    // Polls run 5 s apart: delivered sooner means the callback's hint made the query.
    assert!(
        pending_at.elapsed() < Duration::from_millis(4_500),
        "{:?}",
        pending_at.elapsed()
    );
    let callbacks = world.emulator.with_state(|s| s.callbacks.clone());
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0].1, world.emulator.invoices()[0].order_no);
    assert_eq!(callbacks[0].2, "0000", "answered as Nuonuo expects");
    // A callback for an order fapiao never sent is acknowledged and changes nothing.
    let stray = reqwest::Client::new()
        .post(format!("{base}/nuonuo/callback"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("operater=callback&orderno=UNKNOWN0001&content=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(stray.json::<Value>().await.unwrap()["status"], "0000");
    app.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_result_callback_triggers_a_query,
    super::callback_triggers_a_query
);

pub async fn emulator_inside_the_service(db: Db) {
    let test_db = test_db(db, "nuonuo_inside").await;
    let options = StartOptions {
        database: Some(test_db.database().clone()),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sandbox_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        skip_setup: false,
        skip_runner: false,
    };
    let toml = "[issuer]\nkind = \"nuonuo\"\n[issuer.nuonuo]\nenvironment = \"emulator\"\nemulator_listen = \"127.0.0.1:0\"\n";
    let running = fapiao::start(config(toml), options)
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));
    let app = TestApp {
        base: running.base_url(),
        sandbox: running.sandbox_url().unwrap(),
        running,
        http: reqwest::Client::new(),
        _db: Some(test_db),
    };
    let order = deliver(&app, "official_account", "NN-INSIDE").await;
    assert_eq!(order["invoice"]["number"].as_str().unwrap().len(), 20);
    assert_eq!(order["money"], "100.00");
    app.running.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_emulator_started_by_the_service,
    super::emulator_inside_the_service
);

pub async fn lost_answer_is_queried_not_resent(db: Db) {
    let (emulator, url) = emulator(NuonuoEmulatorConfig {
        pending_polls: 0,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let app = spawn_nuonuo_app_with(db, "nuonuo_lost", &url, 1_000).await;
    // Nuonuo applies the issue but answers after the adapter gave up waiting.
    emulator.push_fault(NuonuoFault {
        method: Some(BILLING.to_owned()),
        kind: NuonuoFaultKind::AppliedThenTimeout { delay_ms: 2_000 },
    });
    let order = deliver(&app, "official_account", "NN-LOST").await;
    let history: Vec<&str> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["to"].as_str())
        .collect();
    assert!(
        history.contains(&"issue_outcome_unknown"),
        "the lost answer was treated as unknown: {history:?}"
    );
    check_delivered(&app, &emulator, &order).await;
    assert_eq!(emulator.invoices().len(), 1);
    assert_eq!(
        emulator.with_state(|s| s.calls.get(BILLING).copied()),
        Some(1),
        "queried with the same orderNo, never sent again"
    );
    app.running.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_lost_issue_answer_is_queried_not_resent,
    super::lost_answer_is_queried_not_resent
);

pub async fn bureau_login_lapse_waits_for_the_operator(db: Db) {
    let (emulator, url) = emulator(NuonuoEmulatorConfig {
        pending_polls: 1_000,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let app = spawn_nuonuo_app(db, "nuonuo_session", &url).await;
    start_order(&app, "official_account", "NN-SESSION").await;
    app.authorize("NN-SESSION", BUYER, Some(BUYER_TAX), false)
        .await;
    wait_long(&app, "NN-SESSION", "issue_pending").await;
    // The bureau refuses: the drawer's login lapsed.
    emulator.with_state(|s| {
        for invoice in s.invoices.values_mut() {
            invoice.status = "22".to_owned();
            invoice.fail_cause = Some("开票员未登录电子税务局，请重新登录".to_owned());
            invoice.pending_polls = 0;
        }
    });
    let waiting = wait_long(&app, "NN-SESSION", "needs_attention").await;
    let attention = waiting["attention"].to_string();
    assert!(attention.contains("未登录"), "{attention}");
    // The drawer logs in again and the operator retries: reInvoice, then issued.
    let (status, retried) = app.api("POST", "/v1/orders/NN-SESSION/retry", None).await;
    assert_eq!(status, 200, "{retried}");
    let order = wait_long(&app, "NN-SESSION", "delivered").await;
    check_delivered(&app, &emulator, &order).await;
    let invoices = emulator.invoices();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].reinvoices, 1);
    app.running.shutdown().await;
}

crate::on_both_databases!(
    nuonuo_bureau_login_lapse_waits_for_the_operator,
    super::bureau_login_lapse_waits_for_the_operator
);
